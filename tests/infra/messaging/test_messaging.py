"""The messaging stack of each environment: queue, dead-letter queue, encryption, TLS only."""

from __future__ import annotations

from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig
from tests.support.assembly import Assembly, properties, ref_target, resources


@pytest.fixture(scope="module")
def template(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> dict[str, Any]:
    return assembly.template(f"{config.project.name}-{env.name}-messaging")


def _queues(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    queues = resources(template, "AWS::SQS::Queue")
    (main,) = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    (dlq,) = [q for q in queues.values() if "RedrivePolicy" not in q["Properties"]]
    return main, dlq


def test_queue_sends_to_the_dlq_after_the_configured_receives(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    main, dlq = _queues(template)
    redrive = main["Properties"]["RedrivePolicy"]
    assert 3 <= redrive["maxReceiveCount"] <= 5
    assert redrive["maxReceiveCount"] == env.queue.max_receive_count
    assert ref_target(template, redrive["deadLetterTargetArn"]) == dlq
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    # Visibility above the worker's processing time (and its shutdown drain).
    assert main["Properties"]["VisibilityTimeout"] >= 60


def test_both_queues_are_encrypted_with_a_rotating_customer_key(template: dict[str, Any]) -> None:
    for queue in _queues(template):
        key = ref_target(template, queue["Properties"]["KmsMasterKeyId"])
        assert key["Type"] == "AWS::KMS::Key"
        assert key["Properties"]["EnableKeyRotation"] is True


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
