"""The messaging stack of one environment: the event topic and every consumer's queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.environment_stack import EnvironmentStack
from infra.messaging.queues import WorkQueue


class MessagingStack(EnvironmentStack):
    """The domain events' topic and, per consumer, a queue subscribed to the types it reads.

    Publishers send each event once to the topic; the fan-out to consumers is SNS's, so a new
    consumer never changes a publisher. Customer-managed keys encrypt the topic and the queues.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        consumers: Mapping[str, Sequence[str]],
        max_receive_count: int,
        removal_policy: RemovalPolicy,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Two keys: the topic's is the publishers' business, the queues' is SNS's as it
        # delivers; neither grant has to name what the other key protects.
        self.topic_key = self._key("EventsKey", "the event topic", removal_policy)
        self.queue_key = self._key("QueueKey", "the SQS queues", removal_policy)
        # Standard (not FIFO): consumers are idempotent on the event id, as with SQS before.
        self.topic = sns.Topic(
            self,
            "Events",
            display_name=f"{self.stack_name} domain events",
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        self.queues: dict[str, WorkQueue] = {
            name: WorkQueue(
                self,
                f"{name.capitalize()}Queue",
                key=self.queue_key,
                topic=self.topic,
                event_types=event_types,
                max_receive_count=max_receive_count,
                removal_policy=removal_policy,
            )
            for name, event_types in consumers.items()
        }

    def _key(self, construct_id: str, encrypts: str, removal_policy: RemovalPolicy) -> kms.Key:
        return kms.Key(
            self,
            construct_id,
            description=f"Encrypts {encrypts} of {self.stack_name}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
