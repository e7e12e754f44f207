"""What IAM authorizes for one request: the action, the resources, the context keys.

These are AWS facts from the Service Authorization Reference (which resource type each action
acts on, which condition keys it sets), not a list of the actions our code needs: the actions
come from the requests our code really makes. An action whose resource is not modelled here
is refused loudly (``Unmodelled``), never evaluated against a guess.
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html

``IMPLIED`` is the small table of permissions AWS checks *in addition* to the called action,
on the caller's credentials, when the resource is encrypted with a customer managed KMS key.
moto does not enforce them; the harness does, from the recorded call and the resource's key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Signing names that differ from the IAM service prefix.
IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "tagging": "tag"}
# Actions that have no resource type: IAM authorizes them on "*".
NO_RESOURCE_ACTIONS = frozenset(
    {
        "cloudformation:DescribeStacks",  # without StackName (see below)
        "cloudformation:ListStacks",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",
        "cloudwatch:ListMetrics",
        "cloudwatch:PutMetricData",
        "ecr:GetAuthorizationToken",
        "sqs:ListQueues",
        "sns:ListTopics",
        "ssm:DescribeParameters",
        "sts:GetCallerIdentity",
        "secretsmanager:ListSecrets",
        "kms:ListKeys",
        "kms:ListAliases",
    }
)


# Batch APIs are authorized as their single-entry action.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
BATCH_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sns:PublishBatch": "sns:Publish",
}


def iam_action(signing_name: str, operation: str) -> str:
    """The IAM action a request is authorized as (``monitoring`` signs CloudWatch calls)."""
    action = f"{IAM_PREFIX.get(signing_name, signing_name)}:{operation}"
    return BATCH_ACTIONS.get(action, action)


class UnmodelledError(Exception):
    """The harness does not know which resource this action acts on."""


@dataclass(frozen=True)
class Target:
    resources: tuple[str, ...]
    context: Mapping[str, Any] = field(default_factory=dict)


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def queue_arn(queue_url: str) -> str:
    match = re.match(r"https?://(?:sqs\.([a-z0-9-]+)\.[^/]+|[^/]+)/(\d{12})/([^/?]+)", queue_url)
    if not match:
        raise UnmodelledError(f"not an SQS queue URL: {queue_url!r}")
    region = match[1] or "us-east-1"
    return _arn("sqs", region, match[2], match[3])


def _parameter_arn(name: str, region: str, account: str) -> str:
    if name.startswith("arn:"):
        return name
    return _arn("ssm", region, account, f"parameter/{name.lstrip('/')}")


def _stack_arn(name: str, region: str, account: str) -> str:
    return (
        name
        if name.startswith("arn:")
        else _arn("cloudformation", region, account, f"stack/{name}/*")
    )


def target_of(
    action: str,
    params: Mapping[str, Any],
    *,
    account: str,
    region: str,
    moto_resource: str,
    secret_arn: Callable[[str], str],
) -> Target:
    """The resources and request context IAM evaluates ``action`` with."""
    service, _, operation = action.partition(":")
    context: dict[str, Any] = {}
    if action in NO_RESOURCE_ACTIONS and not (
        action == "cloudformation:DescribeStacks" and params.get("StackName")
    ):
        if action == "cloudwatch:PutMetricData":
            context["cloudwatch:namespace"] = params.get("Namespace", "")
        return Target(("*",), context)
    resources: list[str] | None
    if service in {"s3", "iam"}:
        resources = [moto_resource]  # moto computes these itself (bucket/key, role ARN)
    elif action == "sts:AssumeRole":
        resources = [params["RoleArn"]]
        if params.get("ExternalId"):
            context["sts:ExternalId"] = params["ExternalId"]
    elif service == "secretsmanager" and "SecretId" in params:
        resources = [secret_arn(params["SecretId"])]
    else:
        resources = _resources_named_in(service, params, account=account, region=region)
    if resources is None:
        raise UnmodelledError(
            f"the harness has no resource model for {action} ({operation} with "
            f"{sorted(params)}): add one to tests/support/request_model.py from the "
            "Service Authorization Reference"
        )
    return Target(tuple(resources), context)


def _resources_named_in(
    service: str, params: Mapping[str, Any], *, account: str, region: str
) -> list[str] | None:
    """The resources a request's parameters name, as ARNs (None: no model for them)."""
    named_by = _NAMED_BY.get(service)
    return None if named_by is None else named_by(params, account, region)


Params = Mapping[str, Any]


def _topic(params: Params, _account: str, _region: str) -> list[str] | None:
    return [params["TopicArn"]] if "TopicArn" in params else None


def _queue(params: Params, _account: str, _region: str) -> list[str] | None:
    return [queue_arn(params["QueueUrl"])] if "QueueUrl" in params else None


def _parameters(params: Params, account: str, region: str) -> list[str] | None:
    if not ("Name" in params or "Path" in params or "Names" in params):
        return None
    names = params.get("Names") or [params.get("Name") or params.get("Path")]
    return [_parameter_arn(str(name), region, account) for name in names]


def _repository(params: Params, account: str, region: str) -> list[str] | None:
    if "repositoryName" not in params:
        return None
    registry = params.get("registryId") or account
    return [_arn("ecr", region, registry, f"repository/{params['repositoryName']}")]


def _pipeline(params: Params, account: str, region: str) -> list[str] | None:
    name = params.get("pipelineName") or params.get("name")
    return None if name is None else [_arn("codepipeline", region, account, name)]


def _stack(params: Params, account: str, region: str) -> list[str] | None:
    return [_stack_arn(params["StackName"], region, account)] if "StackName" in params else None


def _key(params: Params, account: str, region: str) -> list[str] | None:
    if "KeyId" not in params:
        return None
    key = str(params["KeyId"])
    return [key if key.startswith("arn:") else _arn("kms", region, account, f"key/{key}")]


def _log_stream(params: Params, account: str, region: str) -> list[str] | None:
    # Log events are authorized on the stream inside the group: the group ARN with ":*",
    # as DescribeLogGroups returns it and as policies grant it, covers them.
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html
    if "logGroupName" not in params:
        return None
    stream = params.get("logStreamName", "*")
    group = params["logGroupName"]
    return [_arn("logs", region, account, f"log-group:{group}:log-stream:{stream}")]


def _user_pool(params: Params, account: str, region: str) -> list[str] | None:
    # Resource type userpool (Service Authorization Reference, Amazon Cognito User Pools).
    if "UserPoolId" not in params:
        return None
    return [_arn("cognito-idp", region, account, f"userpool/{params['UserPoolId']}")]


def _alarm(params: Params, account: str, region: str) -> list[str] | None:
    if "ResourceARN" in params:
        return [params["ResourceARN"]]
    if "AlarmName" in params:
        return [_arn("cloudwatch", region, account, f"alarm:{params['AlarmName']}")]
    return None


# Per service, the ARNs a request's parameters name.
_NAMED_BY: dict[str, Callable[[Params, str, str], list[str] | None]] = {
    "sns": _topic,
    "sqs": _queue,
    "ssm": _parameters,
    "ecr": _repository,
    "codepipeline": _pipeline,
    "cloudformation": _stack,
    "kms": _key,
    "logs": _log_stream,
    "cognito-idp": _user_pool,
    "cloudwatch": _alarm,
}


# -------------------------------------------------------------------- companion permissions

# Passing a role to CloudFormation is authorized on the caller as iam:PassRole, and a template
# given by URL is read from S3 with the caller's credentials.
_PASS_ROLE_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"
_TEMPLATE_URL_DOC = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/control-access-with-iam.html"
)
_TEMPLATE_ACTIONS = frozenset(
    {
        "cloudformation:CreateChangeSet",
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
    }
)


def _template_object_arn(url: str) -> str:
    """arn:aws:s3:::bucket/key of a TemplateURL (virtual-hosted or path style)."""
    match = re.match(r"https://([^/]+?)\.s3[.-][^/]*amazonaws\.com/(.+)", url) or re.match(
        r"https://s3[.-][^/]*amazonaws\.com/([^/]+)/(.+)", url
    )
    if not match:
        raise UnmodelledError(f"not an S3 template URL: {url!r}")
    return f"arn:aws:s3:::{match[1]}/{match[2]}"


def companions(action: str, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(action, resource, doc) AWS authorizes on the caller along with ``action``."""
    if action not in _TEMPLATE_ACTIONS:
        return []
    found = []
    if params.get("RoleARN"):
        found.append(("iam:PassRole", str(params["RoleARN"]), _PASS_ROLE_DOC))
    if params.get("TemplateURL"):
        found.append(
            ("s3:GetObject", _template_object_arn(str(params["TemplateURL"])), _TEMPLATE_URL_DOC)
        )
    return found


# -------------------------------------------------------------------- implied KMS permissions


@dataclass(frozen=True)
class ImpliedRule:
    """Calling ``action`` on a resource encrypted with a customer managed key makes AWS call
    ``kms_actions`` on that key with the caller's credentials (through ``via``)."""

    action: str
    kms_actions: tuple[str, ...]
    via: str  # the service, for kms:ViaService
    doc: str


IMPLIED = (
    ImpliedRule(
        "sns:Publish",
        ("kms:GenerateDataKey", "kms:Decrypt"),
        "sns",
        "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html",
    ),
    ImpliedRule(
        "sqs:SendMessage",
        ("kms:GenerateDataKey", "kms:Decrypt"),
        "sqs",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html",
    ),
    ImpliedRule(
        "sqs:ReceiveMessage",
        ("kms:Decrypt",),
        "sqs",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html",
    ),
    ImpliedRule(
        "secretsmanager:GetSecretValue",
        ("kms:Decrypt",),
        "secretsmanager",
        "https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html",
    ),
    ImpliedRule(
        "s3:PutObject",
        ("kms:GenerateDataKey",),
        "s3",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
    ),
    ImpliedRule(
        "s3:GetObject",
        ("kms:Decrypt",),
        "s3",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
    ),
)
IMPLIED_BY_ACTION = {rule.action: rule for rule in IMPLIED}


def is_aws_managed_key(key: str) -> bool:
    """alias/aws/<service> keys: their key policy lets the account's principals use them
    through the service, so no permission on the caller is checked."""
    return "alias/aws/" in key
