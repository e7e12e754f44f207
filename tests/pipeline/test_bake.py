"""Bake: passes when alarms stay quiet for the whole period, fails at the first alarm."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from pipeline.bake import bake
from tests.support.clock import FakeClock

PARAMS = {
    "AlarmNamePrefix": "todo-staging-",
    "StateValue": "ALARM",
    "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
}


def _alarms(*names: str) -> dict[str, Any]:
    return {"MetricAlarms": [{"AlarmName": name} for name in names], "CompositeAlarms": []}


def _client() -> Any:
    return boto3.client(
        "cloudwatch", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_quiet_alarms_for_the_whole_period_pass_after_polling_to_the_end() -> None:
    cloudwatch, clock = _client(), FakeClock()
    with Stubber(cloudwatch) as stub:
        for _ in range(4):
            stub.add_response("describe_alarms", _alarms(), PARAMS)
        result = bake(
            cloudwatch,
            prefix="todo-staging-",
            seconds=90,
            clock=clock,
            sleep=clock.sleep,
            poll_seconds=30,
        )
        stub.assert_no_pending_responses()
    assert result.passed
    assert (result.checks, clock.sleeps) == (4, [30, 30, 30])


def test_an_alarm_in_alarm_fails_at_once_and_is_named() -> None:
    cloudwatch, clock = _client(), FakeClock()
    with Stubber(cloudwatch) as stub:
        stub.add_response("describe_alarms", _alarms(), PARAMS)
        stub.add_response(
            "describe_alarms", _alarms("todo-staging-api-5xx", "todo-staging-dlq-visible"), PARAMS
        )
        result = bake(
            cloudwatch,
            prefix="todo-staging-",
            seconds=600,
            clock=clock,
            sleep=clock.sleep,
            poll_seconds=30,
        )
        stub.assert_no_pending_responses()
    assert not result.passed
    assert result.firing == ["todo-staging-api-5xx", "todo-staging-dlq-visible"]
    assert clock.now == 30


def test_zero_minutes_checks_exactly_once() -> None:
    cloudwatch, clock = _client(), FakeClock()
    with Stubber(cloudwatch) as stub:
        stub.add_response("describe_alarms", _alarms(), PARAMS)
        result = bake(cloudwatch, prefix="todo-staging-", seconds=0, clock=clock, sleep=clock.sleep)
    assert result.passed and result.checks == 1 and clock.sleeps == []
