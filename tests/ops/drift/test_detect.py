"""Drift detection with stubbed CloudFormation clients: what the report says for each outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from config.model import DeliveryConfig
from ops.drift.detect import (
    DriftError,
    StackTarget,
    check,
    detect,
    from_json,
    render,
    stack_targets,
    to_json,
)
from tests.support.assembly import Assembly
from tests.support.clock import FakeClock


def _client() -> Any:
    return boto3.client(
        "cloudformation",
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def _target(stack: str, environment: str = "dev") -> StackTarget:
    return StackTarget(
        environment=environment, account="222222222222", region="eu-west-1", stack=stack
    )


def _start(stub: Stubber, stack: str, detection: str) -> None:
    stub.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": detection}, {"StackName": stack}
    )


def _status(stub: Stubber, detection: str, status: str, drift: str = "", reason: str = "") -> None:
    response: dict[str, Any] = {
        "StackId": "arn:aws:cloudformation:eu-west-1:222222222222:stack/x/1",
        "StackDriftDetectionId": detection,
        "DetectionStatus": status,
        "Timestamp": "2026-11-22T00:00:00Z",
    }
    if drift:
        response["StackDriftStatus"] = drift
    if reason:
        response["DetectionStatusReason"] = reason
    stub.add_response(
        "describe_stack_drift_detection_status", response, {"StackDriftDetectionId": detection}
    )


def _resource(logical_id: str, resource_type: str, status: str, *paths: str) -> dict[str, Any]:
    return {
        "StackId": "arn:aws:cloudformation:eu-west-1:222222222222:stack/x/1",
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "StackResourceDriftStatus": status,
        "Timestamp": "2026-11-22T00:00:00Z",
        "PropertyDifferences": [
            {
                "PropertyPath": path,
                "ExpectedValue": "1",
                "ActualValue": "2",
                "DifferenceType": "NOT_EQUAL",
            }
            for path in paths
        ],
    }


def _drifts(stub: Stubber, stack: str, resources: list[dict[str, Any]], **page: str) -> None:
    response: dict[str, Any] = {"StackResourceDrifts": resources}
    expected: dict[str, Any] = {
        "StackName": stack,
        "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"],
    }
    if "next_token" in page:
        response["NextToken"] = page["next_token"]
    if "token" in page:
        expected["NextToken"] = page["token"]
    stub.add_response("describe_stack_resource_drifts", response, expected)


def test_a_drifted_stack_a_clean_one_and_one_not_deployed_after_polling() -> None:
    cloudformation, clock = _client(), FakeClock()
    targets = [
        _target("todo-dev-stateful"),
        _target("todo-dev-stateless"),
        _target("todo-dev-edge"),
    ]
    with Stubber(cloudformation) as stub:
        _start(stub, "todo-dev-stateful", "d1")
        _start(stub, "todo-dev-stateless", "d2")
        stub.add_client_error(
            "detect_stack_drift",
            service_error_code="ValidationError",
            service_message="Stack with id todo-dev-edge does not exist",
            expected_params={"StackName": "todo-dev-edge"},
        )
        _status(stub, "d1", "DETECTION_IN_PROGRESS")
        _status(stub, "d2", "DETECTION_COMPLETE", "IN_SYNC")
        _status(stub, "d1", "DETECTION_COMPLETE", "DRIFTED")
        _drifts(
            stub,
            "todo-dev-stateful",
            [_resource("Queue", "AWS::SQS::Queue", "MODIFIED", "/VisibilityTimeout")],
            next_token="t2",
        )
        _drifts(
            stub,
            "todo-dev-stateful",
            [_resource("Bucket", "AWS::S3::Bucket", "DELETED")],
            token="t2",
        )
        results = detect(cloudformation, targets, clock=clock, sleep=clock.sleep, poll_seconds=5)
        stub.assert_no_pending_responses()

    assert [(r.target.stack, r.status) for r in results] == [
        ("todo-dev-stateful", "DRIFTED"),
        ("todo-dev-stateless", "IN_SYNC"),
        ("todo-dev-edge", "NOT_DEPLOYED"),
    ]
    assert [(d.logical_id, d.status, d.properties) for d in results[0].resources] == [
        ("Bucket", "DELETED", ()),
        ("Queue", "MODIFIED", ("/VisibilityTimeout",)),
    ]
    assert clock.sleeps == [5]

    report = render(results, "2026-11-22 02:00 UTC")
    assert "**1 drifted**" in report
    assert "- `todo-dev-stateful`: **drifted**" in report
    assert "| `Queue` | AWS::SQS::Queue | MODIFIED | /VisibilityTimeout |" in report
    assert "| `Bucket` | AWS::S3::Bucket | DELETED | - |" in report
    assert "- `todo-dev-edge`: not deployed" in report


def test_a_failed_detection_is_reported_with_its_reason_and_is_not_drift() -> None:
    cloudformation, clock = _client(), FakeClock()
    with Stubber(cloudformation) as stub:
        _start(stub, "todo-dev-stateful", "d1")
        _status(stub, "d1", "DETECTION_FAILED", "UNKNOWN", "Failed to detect drift on Secret")
        results = detect(
            cloudformation, [_target("todo-dev-stateful")], clock=clock, sleep=clock.sleep
        )
        stub.assert_no_pending_responses()
    (result,) = results
    assert (result.status, result.reason) == ("FAILED", "Failed to detect drift on Secret")
    report = render(results, "now")
    assert "no drift" in report
    assert "`todo-dev-stateful`: **failed** (Failed to detect drift on Secret)" in report


def test_polling_is_bounded_and_a_slow_detection_becomes_a_failure() -> None:
    cloudformation, clock = _client(), FakeClock()
    with Stubber(cloudformation) as stub:
        _start(stub, "todo-dev-stateful", "d1")
        for _ in range(4):
            _status(stub, "d1", "DETECTION_IN_PROGRESS")
        results = detect(
            cloudformation,
            [_target("todo-dev-stateful")],
            timeout=30,
            poll_seconds=10,
            clock=clock,
            sleep=clock.sleep,
        )
        stub.assert_no_pending_responses()
    assert (results[0].status, results[0].reason) == ("FAILED", "no result within 30 s")
    assert clock.sleeps == [10, 10, 10]


def test_an_aws_failure_names_the_account_and_region() -> None:
    cloudformation = _client()
    with Stubber(cloudformation) as stub:
        stub.add_client_error(
            "detect_stack_drift",
            service_error_code="AccessDenied",
            service_message="not authorized to perform cloudformation:DetectStackDrift",
        )
        with pytest.raises(DriftError, match=r"aws://222222222222/eu-west-1: .*AccessDenied"):
            check([_target("todo-dev-stateful")], lambda *_: cloudformation)


def test_stacks_are_checked_with_one_client_per_account_and_region() -> None:
    clients: dict[tuple[str, str], Any] = {}
    targets = [
        _target("todo-dev-stateful"),
        StackTarget(environment="dev", account="222222222222", region="us-east-1", stack="edge"),
    ]

    def client_for(account: str, region: str) -> Any:
        client = clients[(account, region)] = _client()
        stub = Stubber(client)
        stub.add_client_error(
            "detect_stack_drift",
            service_error_code="ValidationError",
            service_message="does not exist",
        )
        stub.activate()
        return client

    results = check(targets, client_for)
    assert set(clients) == {("222222222222", "eu-west-1"), ("222222222222", "us-east-1")}
    assert [r.status for r in results] == ["NOT_DEPLOYED", "NOT_DEPLOYED"]


def test_the_json_round_trips_what_the_report_says() -> None:
    cloudformation, clock = _client(), FakeClock()
    with Stubber(cloudformation) as stub:
        _start(stub, "todo-dev-stateful", "d1")
        _status(stub, "d1", "DETECTION_COMPLETE", "DRIFTED")
        _drifts(
            stub, "todo-dev-stateful", [_resource("Queue", "AWS::SQS::Queue", "MODIFIED", "/A")]
        )
        results = detect(
            cloudformation, [_target("todo-dev-stateful")], clock=clock, sleep=clock.sleep
        )
    text = to_json(results, "when")
    assert json.loads(text)["drifted"] is True
    assert from_json(text) == (results, "when")


def test_targets_are_every_synthesized_stack_in_its_own_account_and_region(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    targets = stack_targets(Path(assembly.root))
    pipeline = [t for t in targets if t.environment == "pipeline"]
    assert f"{config.project.name}-pipeline" in [t.stack for t in pipeline]
    assert {t.account for t in pipeline} == {config.pipeline.account}
    for env in config.environments:
        mine = [t for t in targets if t.environment == env.name]
        assert f"{config.project.name}-{env.name}-stateful" in [t.stack for t in mine]
        assert {t.account for t in mine} == {env.account}
        regions = {t.stack: t.region for t in mine}
        assert regions[f"{config.project.name}-{env.name}-stateful"] == env.region
        if env.waf.enabled:
            assert regions[f"{config.project.name}-{env.name}-edge"] == "us-east-1"
