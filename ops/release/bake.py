"""Bake: let a fresh deployment run for a while and fail if one of its health alarms fires.

    python -m ops.release.bake --environment staging --minutes 10

The bake watches exactly the environment's *health* alarms: those named under
``health_alarm_prefix(project, environment)`` (config/names.py), the one prefix infra names
them with. Which alarms are health alarms, and why the others (capacity signals, dead letters
older than the deploy, the autoscaler's own alarms, which sit in ALARM whenever the queue is
idle) are not, is written down in infra/observability/monitoring.py.

It polls every 30 seconds and fails at the first health alarm in ALARM, naming it, so the
pipeline stops before the next approval. Zero minutes checks once. Finding no health alarm at
all is an error, never a pass: a bake over nothing means the wrong account, region or prefix.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from config.exit_codes import FAILURE, NO_HEALTH_ALARMS, SUCCESS
from config.names import health_alarm_prefix
from ops.common import CommandError, aws_session, load_config_or_exit

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

POLL_SECONDS = 30


class NoHealthAlarmsError(CommandError):
    """No alarm carries the health prefix where the bake looks."""

    exit_code = NO_HEALTH_ALARMS


@dataclass(frozen=True, kw_only=True)
class BakeResult:
    firing: list[str]
    watched: list[str]
    checks: int

    @property
    def passed(self) -> bool:
        return not self.firing


def health_alarm_states(cloudwatch: CloudWatchClient, *, prefix: str) -> dict[str, str]:
    """Every alarm named under ``prefix`` with its state (ALARM, OK, INSUFFICIENT_DATA)."""
    # All states are listed, not only ALARM: the bake must also know that alarms exist.
    states: dict[str, str] = {}
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    for page in pages:
        for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
            states[alarm["AlarmName"]] = alarm["StateValue"]
    if not states:
        raise NoHealthAlarmsError(prefix)
    return states


def bake(
    cloudwatch: CloudWatchClient,
    *,
    prefix: str,
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = POLL_SECONDS,
) -> BakeResult:
    deadline = clock() + seconds
    checks = 0
    while True:
        checks += 1
        states = health_alarm_states(cloudwatch, prefix=prefix)
        firing = sorted(name for name, state in states.items() if state == "ALARM")
        if firing:
            return BakeResult(firing=firing, watched=sorted(states), checks=checks)
        remaining = deadline - clock()
        if remaining <= 0:
            return BakeResult(firing=[], watched=sorted(states), checks=checks)
        sleep(min(poll_seconds, remaining))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fail if the environment's health alarms fire")
    parser.add_argument("--environment", required=True)
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument(
        "--role-arn", help="role to assume in the environment's account to read its alarms"
    )
    args = parser.parse_args(argv)

    config = load_config_or_exit(environment=args.environment)
    environment = config.environment(args.environment)
    prefix = health_alarm_prefix(config.project.name, environment.name)
    session = aws_session(
        region=environment.region, role_arn=args.role_arn, session_name=f"bake-{environment.name}"
    )
    cloudwatch = session.client("cloudwatch")
    print(f"baking {environment.name} for {args.minutes:g} min (alarms {prefix}*)", flush=True)
    try:
        result = bake(cloudwatch, prefix=prefix, seconds=args.minutes * 60)
    except NoHealthAlarmsError as error:
        print(
            f"error: bake of {environment.name}: no alarm named {prefix}* in "
            f"{environment.region} (the environment's account is {environment.account}); "
            "a bake over no alarm would pass without looking (wrong account, region or "
            "prefix, or the environment is not deployed)",
            file=sys.stderr,
        )
        return error.exit_code
    if result.passed:
        print(
            f"bake passed: none of {len(result.watched)} health alarms fired "
            f"({result.checks} checks): {', '.join(result.watched)}"
        )
        return SUCCESS
    print(f"bake FAILED: alarms in ALARM: {', '.join(result.firing)}")
    return FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
