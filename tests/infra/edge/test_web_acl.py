"""WAF: the CloudFront web ACL (us-east-1, per environment) and the ALB web ACL construct."""

from __future__ import annotations

from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig
from infra.edge.web_acl import MANAGED_RULE_GROUPS, RATE_LIMIT_RULE
from tests.support.assembly import Assembly, properties, resources


def _assert_managed_rules_acl(acl: dict[str, Any], *, scope: str, rate_limit: int) -> None:
    assert acl["Scope"] == scope
    assert acl["DefaultAction"] == {"Allow": {}}
    rules = sorted(acl["Rules"], key=lambda rule: rule["Priority"])
    assert [rule["Name"] for rule in rules] == [*MANAGED_RULE_GROUPS, RATE_LIMIT_RULE]
    for rule, group in zip(rules, MANAGED_RULE_GROUPS, strict=False):
        assert rule["Statement"]["ManagedRuleGroupStatement"] == {
            "VendorName": "AWS",
            "Name": group,
        }
        # The group's own actions apply (a Count override would switch it off).
        assert rule["OverrideAction"] == {"None": {}}
    rate = rules[-1]
    assert rate["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": rate_limit,
        "EvaluationWindowSec": 300,
    }
    assert rate["Action"] == {"Block": {}}
    assert all(rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] for rule in rules)


def test_cloudfront_web_acl_exists_in_us_east_1_only_where_waf_is_enabled(
    assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig
) -> None:
    artifacts = assembly.stack_artifacts(env.name)
    edge = f"{config.project.name}-{env.name}-edge"
    assert (edge in artifacts) is env.waf.enabled
    if env.waf.enabled:
        assert artifacts[edge]["environment"] == f"aws://{env.account}/us-east-1"
        (acl,) = properties(assembly.template(edge), "AWS::WAFv2::WebACL")
        _assert_managed_rules_acl(acl, scope="CLOUDFRONT", rate_limit=env.waf.rate_limit)


def test_distribution_uses_the_web_acl_where_waf_is_enabled(
    assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig
) -> None:
    template = assembly.template(f"{config.project.name}-{env.name}-stateless")
    (distribution,) = properties(template, "AWS::CloudFront::Distribution")
    web_acl = distribution["DistributionConfig"].get("WebACLId")
    if not env.waf.enabled:
        assert web_acl is None
        return
    # The ARN arrives from us-east-1 as the edge stack's output, read by CloudFormation
    # itself (cross_region_references with cdk.json's flags: no custom resource).
    reference = web_acl["Fn::GetStackOutput"]
    assert reference["StackName"] == f"{config.project.name}-{env.name}-edge"
    assert reference["Region"] == "us-east-1"
    edge = assembly.template(reference["StackName"])
    (acl_id,) = resources(edge, "AWS::WAFv2::WebACL")
    assert edge["Outputs"][reference["OutputName"]]["Value"] == {"Fn::GetAtt": [acl_id, "Arn"]}


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_us_east_1_stack_carries_the_cost_tags_on_every_taggable_resource(
    assembly: Assembly, config: DeliveryConfig, environment: str
) -> None:
    template = assembly.template(f"{config.project.name}-{environment}-edge")
    expected = {
        "project": config.project.name,
        "environment": environment,
        "owner": config.project.owner,
        "cost-center": config.project.cost_center,
    }
    for resource_type in ["AWS::WAFv2::WebACL"]:
        found = properties(template, resource_type)
        assert found, resource_type
        for props in found:
            tags = {tag["Key"]: tag["Value"] for tag in props.get("Tags", [])}
            assert expected.items() <= tags.items(), resource_type


def test_dev_has_no_waf_and_staging_and_prod_do(config: DeliveryConfig) -> None:
    assert {env.name: env.waf.enabled for env in config.environments} == {
        "dev": False,
        "staging": True,
        "prod": True,
    }


def test_replica_artifact_bucket_for_us_east_1_is_versioned(assembly: Assembly) -> None:
    support = assembly.template("todo-pipeline-support-us-east-1")
    (bucket,) = properties(support, "AWS::S3::Bucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True


def _ip_rate_limited_acls(assembly: Assembly, environment: str) -> list[dict[str, Any]]:
    acls = []
    for artifact in assembly.stack_artifacts(environment).values():
        template = assembly.template(artifact["properties"]["stackName"])
        assert properties(template, "AWS::WAFv2::WebACLAssociation") == []
        for acl in properties(template, "AWS::WAFv2::WebACL"):
            if any(
                rule["Statement"].get("RateBasedStatement", {}).get("AggregateKeyType") == "IP"
                for rule in acl["Rules"]
            ):
                acls.append(acl)
    return acls


def test_the_per_ip_rate_limit_applies_only_where_the_client_ip_is_seen(
    assembly: Assembly, env: EnvironmentConfig
) -> None:
    # Behind a VPC origin the ALB sees CloudFront's addresses, not the clients': an IP rate
    # limit there would throttle whole edge locations. Only the CloudFront ACL counts per IP.
    acls = _ip_rate_limited_acls(assembly, env.name)
    assert [acl["Scope"] for acl in acls] == (["CLOUDFRONT"] if env.waf.enabled else [])
