"""Bake: let a fresh deployment run for a while and fail if any alarm of the environment fires.

    python -m pipeline.bake --environment staging --minutes 10

Alarms are those whose names start with ``<project>-<environment>-`` (the observability stack
names them so). The check polls every 30 seconds and fails at the first alarm in ALARM,
naming it, so the pipeline stops before the next approval. Zero minutes checks once.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

POLL_SECONDS = 30


@dataclass(frozen=True, kw_only=True)
class BakeResult:
    firing: list[str]
    checks: int

    @property
    def passed(self) -> bool:
        return not self.firing


def alarms_in_alarm(cloudwatch: CloudWatchClient, *, prefix: str) -> list[str]:
    names = []
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, StateValue="ALARM", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    for page in pages:
        names += [alarm["AlarmName"] for alarm in page.get("MetricAlarms", [])]
        names += [alarm["AlarmName"] for alarm in page.get("CompositeAlarms", [])]
    return sorted(names)


def alarms_named(cloudwatch: CloudWatchClient, *, prefix: str) -> list[str]:
    """Every alarm whose name starts with ``prefix``, whatever its state."""
    names = []
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    for page in pages:
        names += [alarm["AlarmName"] for alarm in page.get("MetricAlarms", [])]
        names += [alarm["AlarmName"] for alarm in page.get("CompositeAlarms", [])]
    return sorted(names)


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
        firing = alarms_in_alarm(cloudwatch, prefix=prefix)
        if firing:
            return BakeResult(firing=firing, checks=checks)
        remaining = deadline - clock()
        if remaining <= 0:
            return BakeResult(firing=[], checks=checks)
        sleep(min(poll_seconds, remaining))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fail if the environment's alarms fire")
    parser.add_argument("--environment", required=True)
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument(
        "--role-arn", help="role to assume in the environment's account to read its alarms"
    )
    args = parser.parse_args(argv)

    import boto3  # noqa: PLC0415

    from pipeline.config import ConfigError, load_config  # noqa: PLC0415

    try:
        config = load_config()
        environment = config.environment(args.environment)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyError:
        print(f"error: no environment named {args.environment!r}", file=sys.stderr)
        return 2
    prefix = f"{config.project.name}-{environment.name}-"
    session = boto3.session.Session(region_name=environment.region)
    if args.role_arn:
        credentials = session.client("sts").assume_role(
            RoleArn=args.role_arn, RoleSessionName=f"bake-{environment.name}"
        )["Credentials"]
        session = boto3.session.Session(
            region_name=environment.region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
    cloudwatch = session.client("cloudwatch")
    if not alarms_named(cloudwatch, prefix=prefix):
        # Nothing to watch is no evidence of health: the environment is not deployed here.
        print(
            f"error: no alarm named {prefix}* in {environment.region} of account "
            f"{environment.account}: is {environment.name} deployed there?",
            file=sys.stderr,
        )
        return 1
    print(f"baking {environment.name} for {args.minutes:g} min (alarms {prefix}*)", flush=True)
    result = bake(cloudwatch, prefix=prefix, seconds=args.minutes * 60)
    if result.passed:
        print(f"bake passed: no alarm fired ({result.checks} checks)")
        return 0
    print(f"bake FAILED: alarms in ALARM: {', '.join(result.firing)}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
