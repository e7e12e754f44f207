"""Run-time IAM of the delivery-metrics function: its real handler, invoked as Lambda invokes
it, with the credentials of the role the template gives it, against the local AWS.

moto has no ListActionExecutions: the harness still authorizes the call on the function's
role first, then answers it with an execution's action list as CodePipeline reports it, and
records it as "served by the harness" (never confused with a permission granted).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from config.paths import ROOT
from tests.support.aws_world import World
from tests.support.local_aws import describe
from tests.support.runtimes import Invocation, LambdaFunction

HANDLER = ROOT / "pipeline" / "delivery_metrics" / "runtime" / "handler.py"


def delivery_metrics(world: World) -> LambdaFunction:
    """The function whose code asset is pipeline/delivery_metrics (found by its code)."""
    pipeline = world.pipeline
    for logical_id in pipeline.resources("AWS::Lambda::Function"):
        function = LambdaFunction(world, pipeline, logical_id)
        handler = function.code_dir() / "handler.py"
        if handler.is_file() and handler.read_bytes() == HANDLER.read_bytes():
            return function
    raise AssertionError("no Lambda function of the pipeline stack runs pipeline/delivery_metrics")


def pipeline_execution(world: World) -> tuple[str, str]:
    """The delivery pipeline with one execution, as CodePipeline holds them."""
    pipeline = world.pipeline
    (logical_id,) = pipeline.resources("AWS::CodePipeline::Pipeline")
    name = str(world.resolve(pipeline, {"Ref": logical_id}))
    properties = pipeline.resource(logical_id)["Properties"]
    role_arn = world.role(pipeline, properties["RoleArn"]["Fn::GetAtt"][0])
    codepipeline = world.client("codepipeline", pipeline)
    codepipeline.create_pipeline(
        pipeline={
            "name": name,
            "roleArn": role_arn,
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "stages": [
                {
                    "name": stage["Name"],
                    "actions": [
                        {
                            "name": action["Name"],
                            "actionTypeId": {
                                "category": action["ActionTypeId"]["Category"],
                                "owner": action["ActionTypeId"]["Owner"],
                                "provider": action["ActionTypeId"]["Provider"],
                                "version": action["ActionTypeId"]["Version"],
                            },
                        }
                        for action in stage["Actions"][:1]
                    ],
                }
                for stage in properties["Stages"]
            ],
        }
    )
    execution = codepipeline.start_pipeline_execution(name=name)["pipelineExecutionId"]
    return name, str(execution)


def event(pipeline: str, execution: str, state: str) -> dict[str, Any]:
    return {
        "source": "aws.codepipeline",
        "detail-type": "CodePipeline Pipeline Execution State Change",
        "detail": {"pipeline": pipeline, "execution-id": execution, "state": state},
    }


def assert_permitted(invocation: Invocation) -> None:
    if invocation.denied:
        pytest.fail(
            f"{invocation.label}: the function's role lacks permissions AWS checks:\n"
            + describe(invocation.denied)
            + f"\n{invocation.explain()}",
            pytrace=False,
        )


def test_a_production_release_is_measured_with_the_functions_own_role(empty_world: World) -> None:
    function = delivery_metrics(empty_world)
    name, execution = pipeline_execution(empty_world)
    invocation = function.invoke(event(name, execution, "SUCCEEDED"), label="DeliveryMetrics")
    assert_permitted(invocation)
    assert invocation.returncode == 0, invocation.explain()
    assert invocation.output == {"published": 1}  # moto's executions carry no commit time
    cloudwatch = empty_world.client("cloudwatch", empty_world.pipeline)
    metrics = cloudwatch.list_metrics(Namespace="DeliveryMetrics")["Metrics"]
    assert {metric["MetricName"] for metric in metrics} == {"Deployments"}


def test_a_change_failure_and_the_restore_run_with_the_functions_own_role(
    empty_world: World,
) -> None:
    function = delivery_metrics(empty_world)
    name, execution = pipeline_execution(empty_world)
    failed_in_prod = {
        "actionExecutionDetails": [
            {
                "pipelineExecutionId": execution,
                "stageName": "prod",
                "actionName": "todo-prod-stateless.Deploy",
                "status": "Failed",
                "startTime": dt.datetime(2026, 12, 1, tzinfo=dt.UTC).isoformat(),
            }
        ]
    }
    empty_world.aws.fallbacks["codepipeline:ListActionExecutions"] = lambda _c, _p: failed_in_prod

    failure = function.invoke(event(name, execution, "FAILED"), label="DeliveryMetrics")
    assert_permitted(failure)
    assert failure.returncode == 0, failure.explain()
    assert failure.output == {"published": 1}
    served = [d for d in failure.decisions if d.outcome == "served by the harness"]
    assert [d.action for d in served] == ["codepipeline:ListActionExecutions"]
    authorized = [d for d in failure.decisions if d.action == "codepipeline:ListActionExecutions"]
    assert authorized[0].outcome == "authorized", "the call is authorized before it is served"

    restore = function.invoke(event(name, execution, "SUCCEEDED"), label="DeliveryMetrics")
    assert_permitted(restore)
    assert restore.output == {"published": 2}  # a deployment and its time to restore
    assert {d.action for d in restore.decisions} >= {"ssm:GetParameter", "ssm:DeleteParameter"}


def test_the_lambda_service_writes_logs_and_dead_letters_with_the_role(empty_world: World) -> None:
    function = delivery_metrics(empty_world)
    calls = function.service_calls(label="DeliveryMetrics (Lambda service)")
    assert_permitted(calls)
    assert calls.returncode == 0, calls.explain()
