"""The only source an internal origin admits: CloudFront's origin-facing servers.

CloudFront's VPC origin reaches the internal ALB from the addresses of its origin-facing
servers, which AWS keeps in the managed prefix list below; the AWS docs name this list (or the
CloudFront-VPCOrigins-Service-SG that CloudFront creates with the first VPC origin) as what the
origin's security group must allow:
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/LocationsOfEdgeServers.html#managed-prefix-list

The list's id differs per region and synth needs no AWS credentials (no context lookups), so
the id is resolved at deploy time, by name, in the stack that owns the security group. The
service security group is not used: it exists only once CloudFront has created a VPC origin
in the VPC (after the ALB, beside the distribution) and CloudFront deletes it with
the last VPC origin, so a rule on it would race the distribution on the first deploy.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.compliance import acknowledge_wildcards, explain_cdk_handler

ORIGIN_FACING_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
_ID_FIELD = "PrefixLists.0.PrefixListId"


def cloudfront_origin_facing(
    scope: Construct, construct_id: str, *, log_group: logs.ILogGroup
) -> ec2.IPeer:
    """A security-group peer for CloudFront's origin-facing servers in this stack's region.

    ``log_group`` receives the lookup handler's logs (give it the environment's log key).

    The list counts as many rules as its weight (55 at the time of writing) against the
    group's inbound-rule quota (60 by default): allow it on one port only.
    """
    lookup_call = cr.AwsSdkCall(
        service="EC2",
        action="DescribeManagedPrefixLists",
        parameters={
            "Filters": [{"Name": "prefix-list-name", "Values": [ORIGIN_FACING_PREFIX_LIST]}]
        },
        physical_resource_id=cr.PhysicalResourceId.of(ORIGIN_FACING_PREFIX_LIST),
        output_paths=[_ID_FIELD],
    )
    lookup = cr.AwsCustomResource(
        scope,
        construct_id,
        on_create=lookup_call,
        on_update=lookup_call,
        policy=cr.AwsCustomResourcePolicy.from_statements(
            [
                # ec2:Describe* calls have no resource-level permissions.
                iam.PolicyStatement(actions=["ec2:DescribeManagedPrefixLists"], resources=["*"])
            ]
        ),
        install_latest_aws_sdk=False,
        log_group=log_group,
    )
    _explain_lookup(lookup)
    return ec2.Peer.prefix_list(lookup.get_response_field(_ID_FIELD))


def _explain_lookup(lookup: cr.AwsCustomResource) -> None:
    policy = lookup.node.find_child("CustomResourcePolicy").node.default_child
    if not isinstance(policy, iam.CfnPolicy):
        raise TypeError(f"{lookup.node.path} has no policy of its own")
    acknowledge_wildcards(
        policy,
        "ec2:DescribeManagedPrefixLists is read-only and has no resource-level permission; "
        "the lookup reads only the CloudFront origin-facing list's id",
    )
    _explain_handler(Stack.of(lookup))


def _explain_handler(stack: Stack) -> None:
    """Reasons for the findings on CDK's stack-wide AwsCustomResource handler."""
    uuid = cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
    explain_cdk_handler(
        stack.node.find_child(f"AWS{uuid}"),
        owner="AwsCustomResource",
        calls="reads a prefix list id from the EC2 API",
    )
