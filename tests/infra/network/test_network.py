"""The network of each environment (in its stateful stack), read from the synthesized templates."""

from __future__ import annotations

from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig
from tests.support.assembly import (
    COMPONENTS,
    ENVIRONMENTS,
    NETWORK,
    Assembly,
    part,
    properties,
    ref_target,
    resources,
)


@pytest.fixture(scope="module")
def template(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> dict[str, Any]:
    stateful = assembly.template(f"{config.project.name}-{env.name}-stateful")
    return part(stateful, *NETWORK)


def _subnets(template: dict[str, Any], *, public: bool) -> list[dict[str, Any]]:
    return [
        subnet
        for subnet in properties(template, "AWS::EC2::Subnet")
        if {"Key": "aws-cdk:subnet-type", "Value": "Public" if public else "Private"}
        in subnet["Tags"]
    ]


def test_vpc_uses_the_configured_cidr_with_dns(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    (vpc,) = properties(template, "AWS::EC2::VPC")
    assert vpc["CidrBlock"] == env.network.cidr
    assert vpc["EnableDnsHostnames"] is True
    assert vpc["EnableDnsSupport"] is True


def test_one_public_and_one_private_subnet_per_az(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    public, private = _subnets(template, public=True), _subnets(template, public=False)
    assert len(public) == len(private) == env.network.max_azs
    assert all(subnet["MapPublicIpOnLaunch"] is False for subnet in public + private)
    # AZs resolve at deploy time (no synth-time lookup, no hardcoded names).
    zones = [subnet["AvailabilityZone"] for subnet in public]
    assert zones == [{"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in range(env.network.max_azs)]


def test_isolated_subnets_for_the_database_have_no_route_out(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    isolated = {
        logical_id
        for logical_id, subnet in resources(template, "AWS::EC2::Subnet").items()
        if {"Key": "aws-cdk:subnet-type", "Value": "Isolated"} in subnet["Properties"]["Tags"]
    }
    assert len(isolated) == env.network.max_azs
    tables = {
        assoc["RouteTableId"]["Ref"]
        for assoc in properties(template, "AWS::EC2::SubnetRouteTableAssociation")
        if assoc["SubnetId"]["Ref"] in isolated
    }
    routes = [
        r for r in properties(template, "AWS::EC2::Route") if r["RouteTableId"]["Ref"] in tables
    ]
    assert routes == []


def test_nat_gateways_follow_config(template: dict[str, Any], env: EnvironmentConfig) -> None:
    assert len(resources(template, "AWS::EC2::NatGateway")) == env.network.nat_gateways
    assert len(resources(template, "AWS::EC2::EIP")) == env.network.nat_gateways


def test_private_subnets_route_to_the_internet_only_through_nat(template: dict[str, Any]) -> None:
    default_routes = properties(template, "AWS::EC2::Route")
    via_nat = [r for r in default_routes if "NatGatewayId" in r]
    via_igw = [r for r in default_routes if "GatewayId" in r]
    assert len(via_nat) == len(_subnets(template, public=False))
    assert all(r["DestinationCidrBlock"] == "0.0.0.0/0" for r in via_nat + via_igw)


def test_nat_counts_differ_between_dev_and_prod(assembly: Assembly) -> None:
    counts = {
        env: len(resources(assembly.template(f"todo-{env}-stateful"), "AWS::EC2::NatGateway"))
        for env in ENVIRONMENTS
    }
    assert counts == {"dev": 1, "staging": 2, "prod": 3}


def test_flow_logs_capture_all_traffic_into_an_encrypted_log_group_with_retention(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    (flow_log,) = properties(template, "AWS::EC2::FlowLog")
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["ResourceType"] == "VPC"
    assert flow_log["LogDestinationType"] == "cloud-watch-logs"
    (log_group,) = resources(template, "AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["RetentionInDays"] == env.network.flow_log_retention_days
    key = ref_target(template, log_group["Properties"]["KmsKeyId"])
    assert key["Properties"]["EnableKeyRotation"] is True
    deletion, replace = ("RetainExceptOnCreate", "Retain") if env.protect_data else ("Delete",) * 2
    for resource in (log_group, key):
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (deletion, replace)


def test_log_key_is_usable_by_cloudwatch_logs_of_this_account_only(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    (key,) = properties(template, "AWS::KMS::Key")
    (logs_statement,) = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s["Principal"].get("Service") == f"logs.{env.region}.amazonaws.com"
    ]
    condition = logs_statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert f":logs:{env.region}:{env.account}:log-group:*" in str(condition)


def test_s3_traffic_uses_a_gateway_endpoint_on_every_private_route_table(
    template: dict[str, Any],
) -> None:
    (endpoint,) = properties(template, "AWS::EC2::VPCEndpoint")
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert "s3" in str(endpoint["ServiceName"])
    route_tables = resources(template, "AWS::EC2::RouteTable")
    assert len(endpoint["RouteTableIds"]) == len(route_tables)


def test_default_security_group_is_stripped_of_its_rules(template: dict[str, Any]) -> None:
    (restrict,) = properties(template, "Custom::VpcRestrictDefaultSG")
    assert restrict["DefaultSecurityGroupId"] == {
        "Fn::GetAtt": [next(iter(resources(template, "AWS::EC2::VPC"))), "DefaultSecurityGroup"]
    }


def test_cost_tags_are_on_every_taggable_network_resource(
    template: dict[str, Any], env: EnvironmentConfig, config: DeliveryConfig
) -> None:
    expected = {
        "project": config.project.name,
        "environment": env.name,
        "owner": config.project.owner,
        "cost-center": config.project.cost_center,
    }
    taggable = [
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "AWS::Logs::LogGroup",
        "AWS::KMS::Key",
        "AWS::EC2::FlowLog",
        "AWS::EC2::RouteTable",
        "AWS::EC2::InternetGateway",
    ]
    for resource_type in taggable:
        for props in properties(template, resource_type):
            tags = {tag["Key"]: tag["Value"] for tag in props.get("Tags", [])}
            assert expected.items() <= tags.items(), resource_type


def test_only_prod_has_termination_protection(assembly: Assembly, config: DeliveryConfig) -> None:
    for env in config.environments:
        artifacts = assembly.stack_artifacts(env.name)
        assert len(artifacts) >= len(COMPONENTS)
        for artifact in artifacts.values():
            protected = artifact["properties"].get("terminationProtection", False)
            assert protected is env.termination_protection
