"""A consumer's queue and its dead-letter queue, subscribed to the event topic."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.service_grants import allow_service_send_encrypted

# A consumer handles a message in well under a minute; SQS hides a received message this long
# before handing it to another consumer, so it must exceed the worst processing time.
VISIBILITY_TIMEOUT = Duration.seconds(60)
MESSAGE_RETENTION = Duration.days(4)
# A dead letter is kept for the longest SQS allows, for inspection and redrive.
DLQ_RETENTION = Duration.days(14)
# The message body's field the subscription filters on (todo_common.events: "type").
EVENT_TYPE_FIELD = "type"


class WorkQueue(Construct):
    """One consumer's SQS queue with its dead-letter queue, encrypted with the messaging key.

    The queue receives, from the event topic, only the event types its consumer declared:
    raw delivery (the body is the event itself, no SNS envelope) and a filter on the body's
    ``type``. Both queues refuse any request not made over TLS (``enforce_ssl``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        topic: sns.ITopic,
        event_types: Sequence[str],
        max_receive_count: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = key
        self.event_types = list(event_types)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
            removal_policy=removal_policy,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            # One data key serves the queue for 5 minutes: fewer KMS calls, lower cost.
            data_key_reuse=Duration.minutes(5),
            enforce_ssl=True,
            visibility_timeout=VISIBILITY_TIMEOUT,
            retention_period=MESSAGE_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
            removal_policy=removal_policy,
        )
        # Only this topic may send (its ARN is the aws:SourceArn SNS sends with).
        # https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html
        sender = self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": topic.topic_arn}},
            )
        )
        # SNS encrypts what it delivers with the queue's key, scoped to this account's queues
        # by the encryption context SQS always sends. (CDK's SqsSubscription would add a key
        # grant conditioned on aws:SourceArn, a key SNS does not document for KMS requests.)
        allow_service_send_encrypted(self.queue, service="sns.amazonaws.com")
        self.subscription = sns.Subscription(
            self,
            "Subscription",
            topic=topic,
            endpoint=self.queue.queue_arn,
            protocol=sns.SubscriptionProtocol.SQS,
            raw_message_delivery=True,
            # What SNS cannot deliver (after its retries) waits in the consumer's dead-letter
            # queue, where the new-dead-letters health alarm sees it, instead of being lost.
            dead_letter_queue=self.dead_letter_queue,
            filter_policy_with_message_body={
                EVENT_TYPE_FIELD: sns.FilterOrPolicy.filter(
                    sns.SubscriptionFilter.string_filter(allowlist=self.event_types)
                )
            },
        )
        # Subscribed only once the topic may send: no first delivery is refused.
        if sender.policy_dependable is not None:
            self.subscription.node.add_dependency(sender.policy_dependable)
