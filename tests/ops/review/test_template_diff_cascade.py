"""A real change of the staging VPC's CIDR, synthesized: the template diff shows the cascade
CloudFormation will run, inside the stateful stack and into the stateless one."""

from __future__ import annotations

import pytest

from config.paths import ROOT
from ops.review.template_diff import (
    SUBNET_GROUP_REFUSAL,
    WILL_FAIL,
    EnvironmentDiff,
    diff_assemblies,
    render_markdown,
)
from tests.support.assembly import Assembly, resources, synthesize_or_fail

pytestmark = pytest.mark.xdist_group("staging-cidr-change")

STATEFUL, STATELESS = "todo-staging-stateful", "todo-staging-stateless"


@pytest.fixture(scope="module")
def cidr_change(
    assembly: Assembly, tmp_path_factory: pytest.TempPathFactory
) -> list[EnvironmentDiff]:
    directory = tmp_path_factory.mktemp("staging-cidr")
    text = (ROOT / "config/environments.toml").read_text(encoding="utf-8")
    assert text.count('cidr = "10.20.0.0/16"') == 1  # staging's, and only staging's
    config_file = directory / "environments.toml"
    config_file.write_text(text.replace('cidr = "10.20.0.0/16"', 'cidr = "10.21.0.0/16"'), "utf-8")
    head = synthesize_or_fail(directory / "cdk.out", config_file=config_file)
    return diff_assemblies(assembly.root, head)


def test_only_staging_changes(cidr_change: list[EnvironmentDiff]) -> None:
    assert {env.environment: bool(env.changes) for env in cidr_change} == {
        "pipeline": False,
        "dev": False,
        "staging": True,
        "prod": False,
    }


def test_the_vpc_takes_its_network_and_the_database_proxy_with_it(
    assembly: Assembly, cidr_change: list[EnvironmentDiff]
) -> None:
    (staging,) = [env for env in cidr_change if env.environment == "staging"]
    (stateful,) = [stack for stack in staging.stacks if stack.stack == STATEFUL]
    replaced = {c.logical_id for c in stateful.changes if c.kind == "replaced"}
    template = assembly.template(STATEFUL)
    (vpc,) = resources(template, "AWS::EC2::VPC")
    network_types = (
        "AWS::EC2::Subnet",
        "AWS::EC2::RouteTable",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::Route",
        "AWS::EC2::NatGateway",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::FlowLog",
        "AWS::EC2::VPCEndpoint",
        "AWS::RDS::DBProxy",
    )
    for resource_type in network_types:
        found = set(resources(template, resource_type))
        assert found and found <= replaced, resource_type
    assert vpc in replaced
    # The data stays: the cluster keeps its identity (its subnet group is updated in place).
    assert not any(change.data_at_risk for change in staging.changes)


def test_the_database_subnet_group_cannot_follow_the_new_vpc_and_the_report_says_so(
    assembly: Assembly, cidr_change: list[EnvironmentDiff]
) -> None:
    """CloudFormation updates the subnet group in place with the new subnets; RDS refuses
    subnets of another VPC, so the deploy would fail and roll back. Nothing else is refused."""
    (staging,) = [env for env in cidr_change if env.environment == "staging"]
    (group,) = resources(assembly.template(STATEFUL), "AWS::RDS::DBSubnetGroup")
    refused = {(c.logical_id, c.kind, c.refusal) for c in staging.changes if c.refusal}
    assert refused == {(group, "changed", SUBNET_GROUP_REFUSAL)}
    report = render_markdown(cidr_change)
    (line,) = [line for line in report.splitlines() if f"`{group}`" in line]
    assert line.endswith(f"[**WILL FAIL: {SUBNET_GROUP_REFUSAL}**]")
    assert (
        "### staging: " in report and WILL_FAIL in report.split("### staging: ")[1].split("###")[0]
    )
    assert report.count(WILL_FAIL) == 1  # staging's alone


def test_the_stateless_stack_loses_what_reads_the_vpc_through_its_outputs(
    assembly: Assembly, cidr_change: list[EnvironmentDiff]
) -> None:
    (staging,) = [env for env in cidr_change if env.environment == "staging"]
    (stateless,) = [stack for stack in staging.stacks if stack.stack == STATELESS]
    (vpc,) = resources(assembly.template(STATEFUL), "AWS::EC2::VPC")
    replaced = {c.logical_id for c in stateless.changes if c.kind == "replaced"}
    by_vpc = {c.logical_id for c in stateless.changes if c.causes == (f"{STATEFUL}/{vpc}",)}
    template = assembly.template(STATELESS)
    groups = set(resources(template, "AWS::EC2::SecurityGroup"))
    target_groups = set(resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup"))
    assert groups and target_groups
    assert by_vpc == groups | target_groups
    assert by_vpc <= replaced
    # What reads the new subnets updates in place and redeploys: the load balancer, both ECS
    # services, the deployment hook's function. Every change here is forced by the stateful stack.
    updated = {c.resource_type for c in stateless.changes if c.kind == "changed"}
    assert {
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ECS::Service",
        "AWS::Lambda::Function",
    } <= updated
    assert all(c.causes for c in stateless.changes)
    assert f"because `{STATEFUL}/{vpc}` is replaced [security group]" in render_markdown(
        cidr_change
    )
