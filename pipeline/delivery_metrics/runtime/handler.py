"""Delivery metrics from pipeline execution events (runs as a Lambda function).

An EventBridge rule sends every SUCCEEDED or FAILED execution of the delivery pipeline here.
The last stage is production, so:

- a SUCCEEDED execution is a production deployment: ``Deployments`` = 1 and ``LeadTimeSeconds``
  = now - the commit's time (deployment frequency, lead time for changes);
- a FAILED execution whose failing action belongs to an environment stage is a change failure:
  ``ChangeFailures`` = 1 (the dashboard divides by deployments + failures);
- the first change failure is remembered in SSM; the next SUCCEEDED execution publishes
  ``TimeToRestoreSeconds`` since then and forgets it.

Failures of the build, image or scan stages never reached an environment and are not counted.
Only the standard library and boto3 (part of the Lambda runtime) are used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from typing import Any

NAMESPACE = "DeliveryMetrics"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _metric(name: str, value: float, unit: str, pipeline: str) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": "Pipeline", "Value": pipeline}],
        "Value": value,
        "Unit": unit,
    }


def _failed_in_environment(
    codepipeline: Any, pipeline: str, execution_id: str, stages: set[str]
) -> bool:
    pages = codepipeline.get_paginator("list_action_executions").paginate(
        pipelineName=pipeline, filter={"pipelineExecutionId": execution_id}
    )
    return any(
        action["status"] == "Failed" and action["stageName"] in stages
        for page in pages
        for action in page["actionExecutionDetails"]
    )


def _commit_time(codepipeline: Any, pipeline: str, execution_id: str) -> dt.datetime | None:
    execution = codepipeline.get_pipeline_execution(
        pipelineName=pipeline, pipelineExecutionId=execution_id
    )["pipelineExecution"]
    created = [revision.get("created") for revision in execution.get("artifactRevisions", [])]
    times = [value for value in created if isinstance(value, dt.datetime)]
    return min(times) if times else None


def metrics_for_event(
    event: dict[str, Any],
    *,
    codepipeline: Any,
    ssm: Any,
    parameter: str,
    environment_stages: set[str],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    detail = event["detail"]
    pipeline, execution_id, state = detail["pipeline"], detail["execution-id"], detail["state"]
    metrics: list[dict[str, Any]] = []
    if state == "SUCCEEDED":
        metrics.append(_metric("Deployments", 1, "Count", pipeline))
        committed = _commit_time(codepipeline, pipeline, execution_id)
        if committed is not None:
            lead_time = (now - committed).total_seconds()
            metrics.append(_metric("LeadTimeSeconds", lead_time, "Seconds", pipeline))
        try:
            failing_since = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            failing_since = None
        if failing_since:
            restored = (now - dt.datetime.fromisoformat(failing_since)).total_seconds()
            metrics.append(_metric("TimeToRestoreSeconds", restored, "Seconds", pipeline))
            ssm.delete_parameter(Name=parameter)
    elif state == "FAILED" and _failed_in_environment(
        codepipeline, pipeline, execution_id, environment_stages
    ):
        metrics.append(_metric("ChangeFailures", 1, "Count", pipeline))
        # Already failing: time to restore counts from the first failure.
        with contextlib.suppress(ssm.exceptions.ParameterAlreadyExists):
            ssm.put_parameter(Name=parameter, Value=now.isoformat(), Type="String", Overwrite=False)
    return metrics


def handler(event: dict[str, Any], _context: object) -> dict[str, int]:
    import boto3  # noqa: PLC0415 - provided by the Lambda runtime

    cloudwatch: Any = boto3.client("cloudwatch")

    metrics = metrics_for_event(
        event,
        codepipeline=boto3.client("codepipeline"),
        ssm=boto3.client("ssm"),
        parameter=os.environ["FAILING_SINCE_PARAMETER"],
        environment_stages=set(os.environ["ENVIRONMENT_STAGES"].split(",")),
        now=_now(),
    )
    if metrics:
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=metrics)
    return {"published": len(metrics)}
