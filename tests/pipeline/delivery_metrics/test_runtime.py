"""Delivery metrics: deployments, lead time, change failures and time to restore from events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from pipeline.delivery_metrics.runtime.handler import metrics_for_event

FAKE: dict[str, Any] = {
    "region_name": "eu-west-1",
    "aws_access_key_id": "x",
    "aws_secret_access_key": "x",
}
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
PARAMETER = "/todo/delivery/failing-since"
STAGES = {"dev", "staging", "prod"}


def _event(state: str) -> dict[str, Any]:
    return {"detail": {"pipeline": "todo-delivery", "execution-id": "e-1", "state": state}}


def _metrics(state: str, codepipeline: Any, ssm: Any) -> list[dict[str, Any]]:
    """The handler's metrics for an execution of the pipeline ending in ``state``."""
    return metrics_for_event(
        _event(state),
        codepipeline=codepipeline,
        ssm=ssm,
        parameter=PARAMETER,
        environment_stages=STAGES,
        now=NOW,
    )


def _by_name(metrics: list[dict[str, Any]]) -> dict[str, float]:
    return {metric["MetricName"]: metric["Value"] for metric in metrics}


def _expect_execution(stub: Stubber, committed: dt.datetime) -> None:
    stub.add_response(
        "get_pipeline_execution",
        {"pipelineExecution": {"artifactRevisions": [{"name": "src", "created": committed}]}},
        {"pipelineName": "todo-delivery", "pipelineExecutionId": "e-1"},
    )


def _expect_actions(stub: Stubber, failed_stage: str) -> None:
    stub.add_response(
        "list_action_executions",
        {
            "actionExecutionDetails": [
                {"stageName": "Build", "status": "Succeeded"},
                {"stageName": failed_stage, "status": "Failed"},
            ]
        },
        {"pipelineName": "todo-delivery", "filter": {"pipelineExecutionId": "e-1"}},
    )


def test_a_success_is_a_deployment_with_its_lead_time() -> None:
    codepipeline, ssm = boto3.client("codepipeline", **FAKE), boto3.client("ssm", **FAKE)
    with Stubber(codepipeline) as cp, Stubber(ssm) as params:
        _expect_execution(cp, NOW - dt.timedelta(hours=3))
        params.add_client_error("get_parameter", "ParameterNotFound", "none")
        metrics = _metrics("SUCCEEDED", codepipeline, ssm)
    assert _by_name(metrics) == {"Deployments": 1, "LeadTimeSeconds": 3 * 3600}
    assert metrics[0]["Dimensions"] == [{"Name": "Pipeline", "Value": "todo-delivery"}]


def test_a_failure_in_an_environment_is_a_change_failure_and_starts_the_restore_clock() -> None:
    codepipeline, ssm = boto3.client("codepipeline", **FAKE), boto3.client("ssm", **FAKE)
    with Stubber(codepipeline) as cp, Stubber(ssm) as params:
        _expect_actions(cp, "staging")
        params.add_response(
            "put_parameter",
            {"Version": 1},
            {"Name": PARAMETER, "Value": NOW.isoformat(), "Type": "String", "Overwrite": False},
        )
        metrics = _metrics("FAILED", codepipeline, ssm)
        params.assert_no_pending_responses()
    assert _by_name(metrics) == {"ChangeFailures": 1}


def test_a_second_failure_keeps_the_first_failure_time() -> None:
    codepipeline, ssm = boto3.client("codepipeline", **FAKE), boto3.client("ssm", **FAKE)
    with Stubber(codepipeline) as cp, Stubber(ssm) as params:
        _expect_actions(cp, "prod")
        params.add_client_error("put_parameter", "ParameterAlreadyExists", "exists")
        metrics = _metrics("FAILED", codepipeline, ssm)
    assert _by_name(metrics) == {"ChangeFailures": 1}


def test_a_failure_before_any_environment_is_not_a_change_failure() -> None:
    codepipeline, ssm = boto3.client("codepipeline", **FAKE), boto3.client("ssm", **FAKE)
    with Stubber(codepipeline) as cp, Stubber(ssm):
        _expect_actions(cp, "Images")
        metrics = _metrics("FAILED", codepipeline, ssm)
    assert metrics == []


def test_the_next_success_reports_time_to_restore_and_clears_the_clock() -> None:
    codepipeline, ssm = boto3.client("codepipeline", **FAKE), boto3.client("ssm", **FAKE)
    failing_since = NOW - dt.timedelta(minutes=45)
    with Stubber(codepipeline) as cp, Stubber(ssm) as params:
        _expect_execution(cp, NOW - dt.timedelta(minutes=30))
        params.add_response(
            "get_parameter",
            {"Parameter": {"Value": failing_since.isoformat()}},
            {"Name": PARAMETER},
        )
        params.add_response("delete_parameter", {}, {"Name": ANY})
        metrics = _metrics("SUCCEEDED", codepipeline, ssm)
        params.assert_no_pending_responses()
    assert _by_name(metrics) == {
        "Deployments": 1,
        "LeadTimeSeconds": 1800,
        "TimeToRestoreSeconds": 2700,
    }
