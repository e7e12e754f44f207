"""The messaging of each environment (stateful stack): the event topic, one queue and
dead-letter queue per consumer of the registry, their subscriptions, encryption and TLS."""

from __future__ import annotations

from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig
from tests.support.assembly import NETWORK, Assembly, properties, ref_target, resources, without


@pytest.fixture(scope="module")
def template(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> dict[str, Any]:
    return without(
        assembly.template(f"{config.project.name}-{env.name}-stateful"), *NETWORK, "Database"
    )


def _main_queues(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: queue
        for logical_id, queue in resources(template, "AWS::SQS::Queue").items()
        if "RedrivePolicy" in queue["Properties"]
    }


def _subscriptions(template: dict[str, Any]) -> list[dict[str, Any]]:
    return properties(template, "AWS::SNS::Subscription")


def test_each_consumer_has_a_queue_with_its_own_dead_letter_queue(
    template: dict[str, Any], env: EnvironmentConfig, config: DeliveryConfig
) -> None:
    queues = resources(template, "AWS::SQS::Queue")
    mains = _main_queues(template)
    assert len(mains) == len(config.consumers)
    assert len(queues) == 2 * len(config.consumers)
    dead_letter_queues = []
    for main in mains.values():
        redrive = main["Properties"]["RedrivePolicy"]
        assert 3 <= redrive["maxReceiveCount"] <= 5
        assert redrive["maxReceiveCount"] == env.queue.max_receive_count
        dlq = ref_target(template, redrive["deadLetterTargetArn"])
        assert "RedrivePolicy" not in dlq["Properties"]
        assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        dead_letter_queues.append(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])
        # Visibility above the consumers' processing time (and their shutdown drain).
        assert main["Properties"]["VisibilityTimeout"] >= 60
    assert len(set(dead_letter_queues)) == len(mains)


def test_each_consumer_queue_receives_exactly_its_declared_event_types_raw(
    template: dict[str, Any], config: DeliveryConfig
) -> None:
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    mains = _main_queues(template)
    by_queue = {}
    for subscription in _subscriptions(template):
        assert subscription["Protocol"] == "sqs"
        assert subscription["TopicArn"] == {"Ref": topic_id}
        # Raw: the body is the event itself, as the consumers parse it (no SNS envelope).
        assert subscription["RawMessageDelivery"] is True
        assert subscription["FilterPolicyScope"] == "MessageBody"
        by_queue[subscription["Endpoint"]["Fn::GetAtt"][0]] = subscription["FilterPolicy"]
    assert set(by_queue) == set(mains)
    declared = sorted(sorted(spec.consumes) for spec in config.consumers.values())
    assert sorted(sorted(policy["type"]) for policy in by_queue.values()) == declared


def test_only_the_topic_may_send_to_a_consumer_queue(template: dict[str, Any]) -> None:
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    senders = {}
    for policy in properties(template, "AWS::SQS::QueuePolicy"):
        allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
        for statement in allows:
            assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
            assert statement["Action"] == "sqs:SendMessage"
            assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": topic_id}}}
            senders[policy["Queues"][0]["Ref"]] = statement
    # Each consumer's queue, and its dead-letter queue for what SNS cannot deliver.
    assert set(senders) == set(resources(template, "AWS::SQS::Queue"))


def test_what_sns_cannot_deliver_waits_in_the_consumers_dead_letter_queue(
    template: dict[str, Any],
) -> None:
    mains = _main_queues(template)
    for subscription in _subscriptions(template):
        queue = mains[subscription["Endpoint"]["Fn::GetAtt"][0]]
        dlq_arn = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
        assert subscription["RedrivePolicy"] == {"deadLetterTargetArn": dlq_arn}


def test_sns_may_use_the_queue_key_to_deliver(template: dict[str, Any]) -> None:
    """SNS encrypts what it delivers to an SSE-KMS queue with that queue's key."""
    (queue,) = list(_main_queues(template).values())[:1]
    key = ref_target(template, queue["Properties"]["KmsMasterKeyId"])
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    sns_statements = [s for s in statements if s["Principal"] == {"Service": "sns.amazonaws.com"}]
    assert any(
        {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(s["Action"])
        and "kms:EncryptionContext:aws:sqs:arn" in s["Condition"]["ArnLike"]
        for s in sns_statements
        if "ArnLike" in s.get("Condition", {})
    ), sns_statements


def test_the_topic_and_every_queue_are_encrypted_with_rotating_customer_keys(
    template: dict[str, Any],
) -> None:
    (topic,) = resources(template, "AWS::SNS::Topic").values()
    encrypted = [topic["Properties"]["KmsMasterKeyId"]] + [
        queue["Properties"]["KmsMasterKeyId"]
        for queue in resources(template, "AWS::SQS::Queue").values()
    ]
    for reference in encrypted:
        key = ref_target(template, reference)
        assert key["Type"] == "AWS::KMS::Key"
        assert key["Properties"]["EnableKeyRotation"] is True


def test_the_topic_refuses_publishing_without_tls(template: dict[str, Any]) -> None:
    (policy,) = properties(template, "AWS::SNS::TopicPolicy")
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_queue_policy_denies_requests_without_tls(template: dict[str, Any]) -> None:
    policies = properties(template, "AWS::SQS::QueuePolicy")
    covered = []
    for policy in policies:
        (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Principal"] == {"AWS": "*"}
        covered += [q["Ref"] for q in policy["Queues"]]
    assert sorted(covered) == sorted(resources(template, "AWS::SQS::Queue"))


def test_queues_are_kept_where_data_is_protected(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    deletion, replace = ("RetainExceptOnCreate", "Retain") if env.protect_data else ("Delete",) * 2
    for resource_type in ("AWS::SQS::Queue", "AWS::KMS::Key"):
        for resource in resources(template, resource_type).values():
            assert resource["DeletionPolicy"] == deletion
            assert resource["UpdateReplacePolicy"] == replace
