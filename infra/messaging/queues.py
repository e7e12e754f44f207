"""The queue the worker consumes, its dead-letter queue and their key."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# The worker handles a message in well under a minute; SQS hides a received message this long
# before handing it to another consumer, so it must exceed the worst processing time.
VISIBILITY_TIMEOUT = Duration.seconds(60)
MESSAGE_RETENTION = Duration.days(4)
# A dead letter is kept for the longest SQS allows, for inspection and redrive.
DLQ_RETENTION = Duration.days(14)


class WorkQueue(Construct):
    """An SQS queue with a dead-letter queue, both encrypted with one customer-managed key.

    Both queues refuse any request not made over TLS (``enforce_ssl``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_receive_count: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)

        self.key = kms.Key(
            self,
            "QueueKey",
            description=f"Encrypts the SQS queues of {Stack.of(self).stack_name}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
            removal_policy=removal_policy,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
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
