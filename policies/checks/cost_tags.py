"""CKV_TODO_1: every taggable resource carries the cost-allocation tags.

The environment stages tag everything with `project` and `environment` (the keys AWS Budgets
filters on); the pipeline account's stacks carry them too, with `environment = pipeline`.
"""

from __future__ import annotations

from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

REQUIRED_TAG_KEYS = frozenset({"project", "environment"})

# Types whose CloudFormation schema has a `Tags` property. AWS::RDS::DBProxyTargetGroup is
# left out: its schema lists Tags but CloudFormation rejects the property.
TAGGABLE_TYPES = (
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::Function",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::CompositeAlarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::CodeBuild::Project",
    "AWS::CodePipeline::Pipeline",
    "AWS::CodeStarNotifications::NotificationRule",
    "AWS::DynamoDB::Table",
    "AWS::EC2::EIP",
    "AWS::EC2::FlowLog",
    "AWS::EC2::Instance",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::NatGateway",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Subnet",
    "AWS::EC2::VPC",
    "AWS::EC2::VPCEndpoint",
    "AWS::ECR::Repository",
    "AWS::ECS::Cluster",
    "AWS::ECS::Service",
    "AWS::ECS::TaskDefinition",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::Events::Rule",
    "AWS::IAM::OIDCProvider",
    "AWS::IAM::Role",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBProxy",
    "AWS::RDS::DBSubnetGroup",
    "AWS::S3::Bucket",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::SSM::Parameter",
    "AWS::SecretsManager::Secret",
    "AWS::StepFunctions::StateMachine",
    "AWS::WAFv2::WebACL",
)


def tag_keys(tags: Any) -> set[str]:
    """Literal tag keys, whether the type takes a list of Key/Value pairs or a map."""
    if isinstance(tags, dict):
        return {key for key in tags if isinstance(key, str)}
    if isinstance(tags, list):
        return {
            tag["Key"]
            for tag in tags
            if isinstance(tag, dict) and isinstance(tag.get("Key"), str) and "Value" in tag
        }
    return set()


class CostAllocationTags(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure taggable resources carry the cost-allocation tags project and environment",
            id="CKV_TODO_1",
            categories=(CheckCategories.CONVENTION,),
            supported_resources=TAGGABLE_TYPES,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["Properties/Tags"]
        tags = (conf.get("Properties") or {}).get("Tags")
        if tag_keys(tags) >= REQUIRED_TAG_KEYS:
            return CheckResult.PASSED
        return CheckResult.FAILED


check = CostAllocationTags()
