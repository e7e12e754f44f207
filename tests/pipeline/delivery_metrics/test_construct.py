"""Delivery metrics wiring in the synthesized pipeline stack."""

from __future__ import annotations

import json
from typing import Any

from config.model import DeliveryConfig
from tests.support.assembly import Assembly, properties, ref_target


def _function(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [
        f
        for f in properties(template, "AWS::Lambda::Function")
        if f.get("Handler") == "handler.handler"
    ]
    return function


def test_finished_executions_of_this_pipeline_reach_the_function(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    template = assembly.pipeline_template
    (rule,) = [
        r
        for r in properties(template, "AWS::Events::Rule")
        if "delivery metrics" in r.get("Description", "")
    ]
    assert rule["EventPattern"] == {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Pipeline Execution State Change"],
        "detail": {
            "pipeline": [f"{config.project.name}-delivery"],
            "state": ["SUCCEEDED", "FAILED"],
        },
    }
    (target,) = rule["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert "DeadLetterConfig" in target


def test_function_is_serialised_with_a_dlq_and_knows_the_environment_stages(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    function = _function(assembly.pipeline_template)
    assert function["ReservedConcurrentExecutions"] == 1
    assert "TargetArn" in function["DeadLetterConfig"]
    assert "KmsKeyArn" in function
    assert function["Environment"]["Variables"]["ENVIRONMENT_STAGES"] == ",".join(
        env.name for env in config.environments
    )


def test_function_role_can_only_publish_to_its_namespace(assembly: Assembly) -> None:
    template = assembly.pipeline_template
    role = ref_target(
        template, {"Fn::GetAtt": [_function(template)["Role"]["Fn::GetAtt"][0], "Arn"]}
    )
    assert "ManagedPolicyArns" not in role["Properties"]
    (policy,) = [
        p
        for p in properties(template, "AWS::IAM::Policy")
        if json.dumps(p["Roles"])
        == json.dumps([{"Ref": _function(template)["Role"]["Fn::GetAtt"][0]}])
    ]
    (metrics,) = [
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s["Action"] == "cloudwatch:PutMetricData"
    ]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "DeliveryMetrics"}}


def test_dashboard_shows_the_four_delivery_metrics(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    (dashboard,) = [
        d
        for d in properties(assembly.pipeline_template, "AWS::CloudWatch::Dashboard")
        if d["DashboardName"] == f"{config.project.name}-delivery-metrics"
    ]
    body = json.dumps(dashboard["DashboardBody"])
    for title in (
        "Deployment frequency",
        "Lead time for changes",
        "Change failure rate",
        "Time to restore",
    ):
        assert title in body
