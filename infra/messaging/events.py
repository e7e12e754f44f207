"""The domain events' topic, its keys and every consumer's queue, made in the caller's stack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.messaging.queues import WorkQueue


@dataclass(frozen=True)
class Messaging:
    """The domain events' topic and, per consumer, a queue subscribed to the types it reads.

    Publishers send each event once to the topic; the fan-out to consumers is SNS's, so a new
    consumer never changes a publisher. Customer-managed keys encrypt the topic and the queues.
    """

    topic_key: kms.Key
    queue_key: kms.Key
    topic: sns.Topic
    queues: Mapping[str, WorkQueue]


def add_messaging(
    scope: Construct,
    *,
    consumers: Mapping[str, Sequence[str]],
    max_receive_count: int,
    removal_policy: RemovalPolicy,
) -> Messaging:
    """Made directly in ``scope`` (not below a construct of their own) so the topic, keys and
    queues keep the logical ids they had in the former messaging stack: a fork migrating from
    it imports each one under its old id (docs/stack-migration.md)."""
    stack_name = Stack.of(scope).stack_name
    # Two keys: the topic's is the publishers' business, the queues' is SNS's as it
    # delivers; neither grant has to name what the other key protects.
    topic_key = _key(scope, "EventsKey", f"the event topic of {stack_name}", removal_policy)
    queue_key = _key(scope, "QueueKey", f"the SQS queues of {stack_name}", removal_policy)
    # Standard (not FIFO): consumers are idempotent on the event id, as with SQS before.
    topic = sns.Topic(
        scope,
        "Events",
        display_name=f"{stack_name} domain events",
        master_key=topic_key,
        enforce_ssl=True,
    )
    queues = {
        name: WorkQueue(
            scope,
            f"{name.capitalize()}Queue",
            key=queue_key,
            topic=topic,
            event_types=event_types,
            max_receive_count=max_receive_count,
            removal_policy=removal_policy,
        )
        for name, event_types in consumers.items()
    }
    return Messaging(topic_key=topic_key, queue_key=queue_key, topic=topic, queues=queues)


def _key(
    scope: Construct, construct_id: str, encrypts: str, removal_policy: RemovalPolicy
) -> kms.Key:
    return kms.Key(
        scope,
        construct_id,
        description=f"Encrypts {encrypts}",
        enable_key_rotation=True,
        removal_policy=removal_policy,
    )
