"""The event topology in the local AWS (moto), built as the infra builds it in AWS.

One standard topic; per consumer a queue and its DLQ (:func:`todo_devstack.sqs.create_queues`)
subscribed to the topic with raw message delivery (the queue's message body is the event
JSON the publisher sent) and a filter policy on the message body, ``{"type": [<consumes>]}``.
The dev stack and the start checks (``ops.images.start_check``) both build it here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from todo_devstack.sqs import LOCAL_CREDENTIALS, REGION, Queues, create_queues

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

# Loosely typed: mypy_boto3_sns is not a dependency of this repository.
SnsClient = Any
# In AWS the topic is encrypted with the environment's key; moto only records the attribute.
LOCAL_TOPIC_KEY = "alias/aws/sns"


@dataclass(frozen=True)
class Topology:
    topic_arn: str
    # Each consumer's queue (and DLQ), by service name.
    queues: dict[str, Queues]


def sns_client(endpoint_url: str, region: str = REGION) -> SnsClient:
    import boto3  # noqa: PLC0415 - slow import

    return boto3.client(
        "sns",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def filter_policy(consumes: Sequence[str]) -> str:
    """The subscription's filter on the body's ``type``."""
    return json.dumps({"type": sorted(consumes)})


def subscribe(
    sns: SnsClient, sqs: SQSClient, topic_arn: str, queue_url: str, consumes: Sequence[str]
) -> str:
    """Subscribe the queue to the topic for ``consumes``; the subscription ARN."""
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    # What lets the topic send to the queue in AWS (moto does not enforce it).
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    subscription = sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicyScope": "MessageBody",
            "FilterPolicy": filter_policy(consumes),
        },
        ReturnSubscriptionArn=True,
    )
    return str(subscription["SubscriptionArn"])


def create_topology(
    sns: SnsClient,
    sqs: SQSClient,
    prefix: str,
    consumers: Mapping[str, Sequence[str]],
    **queue_options: int,
) -> Topology:
    """The topic ``<prefix>-events`` and, per consumer, ``<prefix>-<consumer>`` (+ ``-dlq``)
    subscribed to it. A consumer that consumes nothing gets its queue but no subscription
    (SNS refuses an empty filter list)."""
    topic_arn = str(
        sns.create_topic(Name=f"{prefix}-events", Attributes={"KmsMasterKeyId": LOCAL_TOPIC_KEY})[
            "TopicArn"
        ]
    )
    queues = {}
    for name, consumes in consumers.items():
        queues[name] = create_queues(sqs, f"{prefix}-{name}", **queue_options)
        if consumes:
            subscribe(sns, sqs, topic_arn, queues[name].url, consumes)
    return Topology(topic_arn=topic_arn, queues=queues)
