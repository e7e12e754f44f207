"""CKV_TODO_12: a bucket that an AWS service writes logs into lets that service write them.

- S3 server access logs: the destination's bucket policy allows logging.s3.amazonaws.com
  s3:PutObject under the source's prefix, conditioned on aws:SourceArn (the source bucket)
  and/or aws:SourceAccount; source and destination share account and region.
- ALB access logs: the bucket policy allows the Region's Elastic Load Balancing account (or
  logdelivery.elasticloadbalancing.amazonaws.com) s3:PutObject on
  <prefix>/AWSLogs/<our account>/*; that path is the documented scoping (the legacy account
  principal takes no source condition).
- CloudFront standard logs (legacy): CloudFront delivers with an ACL grant to its
  awslogsdelivery account, so the bucket must keep ACLs enabled (not BucketOwnerEnforced).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from policies.checks.grants.judge import (
    GrantCheck,
    RequestContext,
    attached_policies,
    judge,
    merge,
    stack_accounts,
)
from policies.checks.grants.model import GENERATED, Assembly, ResourceId, Stack
from policies.checks.grants.policy import Statement, statements

DOCS = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html",
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/AccessLogs.html",
)
S3_LOGGING = "logging.s3.amazonaws.com"
ELB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
# The Elastic Load Balancing account of each Region opened before August 2022 (newer Regions
# use ELB_LOG_DELIVERY); tests/policies check this table against aws_cdk.region_info.
ELB_ACCOUNTS = {
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}
_ACL_OWNERSHIP = {"BucketOwnerPreferred", "ObjectWriter"}


@dataclass(frozen=True)
class LogDelivery:
    kind: str
    source: ResourceId
    destination_text: str
    destination: ResourceId | None
    prefix: str


def _bucket(assembly: Assembly, text: str) -> ResourceId | None:
    """The bucket a name, ARN, placeholder or S3 domain name (CloudFront's form) denotes."""
    for suffix in (".s3.amazonaws.com",):
        text = text.removesuffix(suffix)
    rid = assembly.target(text)
    if rid is None and ".s3." in text:
        rid = assembly.target(text.split(".s3.", 1)[0])
    return rid if rid is not None and assembly.type_of(rid) == "AWS::S3::Bucket" else None


def _sources(assembly: Assembly) -> Iterator[LogDelivery]:
    for stack in assembly.stacks.values():
        for logical_id, resource in stack.resources.items():
            yield from _source(assembly, stack, ResourceId(stack.name, logical_id), resource)


def _source(
    assembly: Assembly, stack: Stack, rid: ResourceId, resource: dict[str, Any]
) -> Iterator[LogDelivery]:
    properties: dict[str, Any] = resource.get("Properties") or {}
    kind = resource.get("Type")
    if kind == "AWS::S3::Bucket" and properties.get("LoggingConfiguration"):
        logging = properties["LoggingConfiguration"]
        text = assembly.text(stack, logging.get("DestinationBucketName"))
        prefix = assembly.text(stack, logging.get("LogFilePrefix", ""))
        yield LogDelivery("S3 server access logs", rid, text, _bucket(assembly, text), prefix)
    if kind == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        attributes = {
            assembly.text(stack, a.get("Key")): assembly.text(stack, a.get("Value"))
            for a in properties.get("LoadBalancerAttributes") or []
        }
        if attributes.get("access_logs.s3.enabled") == "true":
            text = attributes.get("access_logs.s3.bucket", "")
            prefix = attributes.get("access_logs.s3.prefix", "")
            yield LogDelivery("ALB access logs", rid, text, _bucket(assembly, text), prefix)
    if kind == "AWS::CloudFront::Distribution":
        logging = (properties.get("DistributionConfig") or {}).get("Logging")
        if logging:
            text = assembly.text(stack, logging.get("Bucket"))
            yield LogDelivery("CloudFront standard logs", rid, text, _bucket(assembly, text), "")


def _bucket_policy(assembly: Assembly, bucket: ResourceId) -> Any:
    policies = attached_policies(assembly, bucket, "AWS::S3::BucketPolicy", "Bucket")
    return policies[0][1] if policies else None


def _s3_access_logs(assembly: Assembly, delivery: LogDelivery, bucket: ResourceId) -> list[str]:
    source_stack = assembly.stacks[delivery.source.stack]
    bucket_stack = assembly.stacks[bucket.stack]
    if (source_stack.account, source_stack.region) != (bucket_stack.account, bucket_stack.region):
        return [f"{delivery.source} logs into it from another account or region: S3 refuses that"]
    context = RequestContext(
        values={
            "aws:sourcearn": {*assembly.identities(delivery.source), assembly.arn(delivery.source)},
            "aws:sourceaccount": {source_stack.account},
        },
        scoping=frozenset({"aws:sourcearn", "aws:sourceaccount"}),
        account=source_stack.account,
        region=None,
        stack_accounts=stack_accounts(assembly),
    )
    return judge(
        _bucket_policy(assembly, bucket),
        service=S3_LOGGING,
        actions=["s3:PutObject"],
        resource=f"{assembly.arn(bucket)}/{delivery.prefix}{GENERATED}",
        context=context,
    )


def _elb_grants(statement: Statement, region: str, partition: str) -> bool:
    account = ELB_ACCOUNTS.get(region)
    legacy = {f"arn:{partition}:iam::{account}:root", account} if account else set()
    return bool(legacy & statement.aws_principals()) or ELB_LOG_DELIVERY in statement.services()


def _alb_access_logs(assembly: Assembly, delivery: LogDelivery, bucket: ResourceId) -> list[str]:
    stack = assembly.stacks[delivery.source.stack]
    base = f"{assembly.arn(bucket)}/{delivery.prefix + '/' if delivery.prefix else ''}AWSLogs"
    ours, foreign = f"{base}/{stack.account}/{GENERATED}", f"{base}/000000000000/{GENERATED}"
    grants = [
        s
        for s in statements(_bucket_policy(assembly, bucket))
        if s.allows
        and _elb_grants(s, stack.region, stack.partition)
        and s.covers_action("s3:PutObject")
        and s.covers_resource(ours)
    ]
    problems = [
        "a grant to Elastic Load Balancing covers other accounts' AWSLogs/ paths"
        for s in grants
        if s.covers_resource(foreign)
    ]
    problems += [
        "a grant to Elastic Load Balancing is conditioned, which its log delivery does not support"
        for s in grants
        if s.conditions()
    ]
    if not grants:
        problems.append(
            f"nothing allows Elastic Load Balancing ({stack.region}) s3:PutObject on "
            f"{delivery.prefix + '/' if delivery.prefix else ''}AWSLogs/{stack.account}/* "
            f"for {delivery.source}"
        )
    return problems


def _cloudfront_logs(assembly: Assembly, delivery: LogDelivery, bucket: ResourceId) -> list[str]:
    rules = (assembly.properties(bucket).get("OwnershipControls") or {}).get("Rules") or []
    ownership = {rule.get("ObjectOwnership") for rule in rules}
    if ownership & _ACL_OWNERSHIP:
        return []
    return [
        f"{delivery.source} writes standard logs here with an ACL grant, but the bucket's ACLs "
        "are disabled (ObjectOwnership BucketOwnerEnforced, the default)"
    ]


_JUDGES = {
    "S3 server access logs": _s3_access_logs,
    "ALB access logs": _alb_access_logs,
    "CloudFront standard logs": _cloudfront_logs,
}


def evaluate(assembly: Assembly) -> dict[ResourceId, list[str]]:
    results: dict[ResourceId, list[tuple[str, str]]] = defaultdict(list)
    for delivery in _sources(assembly):
        source = f"the {delivery.kind} of {delivery.source}"
        if delivery.destination is None:
            message = (
                f"they go to {delivery.destination_text!r}, not a bucket of this assembly: "
                "the grant cannot be checked"
            )
            results[delivery.source].append((message, source))
            continue
        problems = _JUDGES[delivery.kind](assembly, delivery, delivery.destination)
        results[delivery.destination] += [(problem, source) for problem in problems]
        results.setdefault(delivery.destination, [])
    return {rid: merge(problems) for rid, problems in results.items()}


CHECK = GrantCheck(
    id="CKV_TODO_12",
    name="Ensure buckets that AWS services write logs into let them (S3, ALB, CloudFront logs)",
    docs=DOCS,
    evaluate=evaluate,
)
