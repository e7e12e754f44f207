"""Grants that let AWS services use our keys and topics, each scoped to this account.

One place for the statements AWS documents, so every key and topic writes them the same way
(policies/checks/grants/ proves them on the synthesized templates):

- a key that encrypts log groups lets CloudWatch Logs use it, conditioned on the encryption
  context ``aws:logs:arn`` of this account and region's log groups;
- a topic that an AWS service publishes to allows that service ``sns:Publish`` under the source
  condition the service documents, and its key lets the service encrypt for this topic only;
- a queue that an AWS service sends to lets the service use its key for this queue only.

SNS and SQS always call KMS with the topic or queue ARN as encryption context
(``aws:sns:topicArn``, ``aws:sqs:arn``), so that condition scopes a key grant whatever the
service; aws:SourceAccount/aws:SourceArn are not documented as present in those KMS requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from infra.escape_hatch import cfn_resource

# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
LOGS_KEY_ACTIONS = (
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
)
# https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html (event sources)
PUBLISHER_KEY_ACTIONS = ("kms:GenerateDataKey*", "kms:Decrypt")

Conditions = Mapping[str, Mapping[str, str]]


def allow_log_streams(role: iam.Role, log_group: logs.ILogGroup) -> None:
    """A function's own log streams: what Lambda needs of its execution role to log."""
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{log_group.log_group_arn}:*"],
        )
    )


def allow_log_encryption(key: kms.IKey) -> None:
    """Let CloudWatch Logs use ``key`` for the log groups of its stack's account and region.

    The condition cannot name one group: a generated group name is unknown until it exists,
    and naming the group's ARN in the key policy would make the key depend on the group that
    depends on the key. The account and region are literal, so no other account's group can.
    """
    stack = Stack.of(key)
    log_groups = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name="*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=list(LOGS_KEY_ACTIONS),
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        )
    )


def _topic_arn_pattern(topic: sns.Topic) -> str:
    """The topic's ARN when its name is fixed, else every topic of the stack's account/region.

    The key policy cannot reference the topic itself: the topic already references the key.
    """
    name = cfn_resource(topic, sns.CfnTopic).topic_name
    resource = name if name and not Token.is_unresolved(name) else "*"
    return Stack.of(topic).format_arn(
        service="sns", resource=resource, arn_format=ArnFormat.NO_RESOURCE_NAME
    )


def allow_service_publish(
    topic: sns.Topic, *, services: Sequence[str], conditions: Conditions
) -> None:
    """Let AWS ``services`` publish to ``topic`` under ``conditions`` (their documented keys).

    When the topic is encrypted, its key also lets them encrypt, for this topic only.
    """
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(service) for service in services],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={operator: dict(keys) for operator, keys in conditions.items()},
        )
    )
    if topic.master_key is not None:
        topic.master_key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(service) for service in services],
                actions=list(PUBLISHER_KEY_ACTIONS),
                resources=["*"],
                conditions={
                    "ArnLike": {"kms:EncryptionContext:aws:sns:topicArn": _topic_arn_pattern(topic)}
                },
            )
        )


def allow_service_send_encrypted(queue: sqs.Queue, *, service: str) -> None:
    """Let an AWS ``service`` use ``queue``'s key when it sends to this account's queues.

    The queue policy itself is the sender's business (EventBridge targets write theirs).
    """
    if queue.encryption_master_key is None:
        raise ValueError(f"{queue.node.path} is not encrypted with a customer managed key")
    queue_arns = Stack.of(queue).format_arn(
        service="sqs", resource="*", arn_format=ArnFormat.NO_RESOURCE_NAME
    )
    queue.encryption_master_key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(service)],
            actions=list(PUBLISHER_KEY_ACTIONS),
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:sqs:arn": queue_arns}},
        )
    )
