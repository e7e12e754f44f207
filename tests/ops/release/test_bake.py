"""Bake: passes when health alarms stay quiet for the whole period, fails at the first alarm."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops.release.bake import NoHealthAlarmsError, bake
from tests.support.clock import FakeClock

PREFIX = "todo-staging/health/"
PARAMS = {"AlarmNamePrefix": PREFIX, "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
QUIET = {"todo-staging/health/api-target-5xx": "OK", "todo-staging/health/alb-5xx": "OK"}


def _alarms(states: dict[str, str]) -> dict[str, Any]:
    return {
        "MetricAlarms": [
            {"AlarmName": name, "StateValue": state} for name, state in states.items()
        ],
        "CompositeAlarms": [],
    }


def _client() -> Any:
    return boto3.client(
        "cloudwatch", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_quiet_alarms_for_the_whole_period_pass_after_polling_to_the_end() -> None:
    cloudwatch, clock = _client(), FakeClock()
    with Stubber(cloudwatch) as stub:
        for _ in range(4):
            stub.add_response("describe_alarms", _alarms(QUIET), PARAMS)
        result = bake(
            cloudwatch, prefix=PREFIX, seconds=90, clock=clock, sleep=clock.sleep, poll_seconds=30
        )
        stub.assert_no_pending_responses()
    assert result.passed
    assert result.watched == sorted(QUIET)
    assert (result.checks, clock.sleeps) == (4, [30, 30, 30])


def test_an_alarm_in_alarm_fails_at_once_and_is_named() -> None:
    cloudwatch, clock = _client(), FakeClock()
    firing = {
        **QUIET,
        "todo-staging/health/api-target-5xx": "ALARM",
        "todo-staging/health/new-dead-letters": "ALARM",
    }
    with Stubber(cloudwatch) as stub:
        stub.add_response("describe_alarms", _alarms(QUIET), PARAMS)
        stub.add_response("describe_alarms", _alarms(firing), PARAMS)
        result = bake(
            cloudwatch, prefix=PREFIX, seconds=600, clock=clock, sleep=clock.sleep, poll_seconds=30
        )
        stub.assert_no_pending_responses()
    assert not result.passed
    assert result.firing == [
        "todo-staging/health/api-target-5xx",
        "todo-staging/health/new-dead-letters",
    ]
    assert clock.now == 30


def test_insufficient_data_is_not_a_failure() -> None:
    cloudwatch, clock = _client(), FakeClock()
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "describe_alarms",
            _alarms({**QUIET, "todo-staging/health/alb-5xx": "INSUFFICIENT_DATA"}),
            PARAMS,
        )
        result = bake(cloudwatch, prefix=PREFIX, seconds=0, clock=clock, sleep=clock.sleep)
    assert result.passed


def test_zero_minutes_checks_exactly_once() -> None:
    cloudwatch, clock = _client(), FakeClock()
    with Stubber(cloudwatch) as stub:
        stub.add_response("describe_alarms", _alarms(QUIET), PARAMS)
        result = bake(cloudwatch, prefix=PREFIX, seconds=0, clock=clock, sleep=clock.sleep)
    assert result.passed and result.checks == 1 and clock.sleeps == []


def test_no_alarm_under_the_prefix_is_an_error_not_a_pass() -> None:
    cloudwatch, clock = _client(), FakeClock()
    with Stubber(cloudwatch) as stub:
        stub.add_response("describe_alarms", _alarms({}), PARAMS)
        with pytest.raises(NoHealthAlarmsError):
            bake(cloudwatch, prefix=PREFIX, seconds=600, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []
