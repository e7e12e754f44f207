"""Drift: which deployed resources no longer match what CloudFormation deployed.

    python -m ops.drift.detect --assembly cdk.out --out build/drift/report.md

For every stack of the synthesized assembly (the pipeline's and each environment's), in the
stack's own account and region, through the read-only CDK bootstrap lookup role: start drift
detection, poll until it is done (bounded), and list the resources MODIFIED or DELETED
outside CloudFormation with the property paths that changed. Writes a Markdown report and
drift.json (what `make drift-issue` reads). Exit 0 once written, drift or not; 1 when an AWS
call fails; 2 when the assembly is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from config.cloud_assembly import read_cloud_assembly
from config.exit_codes import BAD_INPUT, SUCCESS
from config.names import lookup_role_arn
from config.paths import ASSEMBLY_DIR
from ops.common import (
    CommandError,
    aws_session,
    cloud_assembly_or_exit,
    is_missing_stack,
    load_config_or_exit,
    write_atomically,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

POLL_SECONDS = 10.0
# Detection of a large stack takes a few minutes; past this the stack is reported as failed.
TIMEOUT_SECONDS = 900.0
DRIFTED_STATUSES: list[Literal["MODIFIED", "DELETED"]] = ["MODIFIED", "DELETED"]

Status = Literal["DRIFTED", "IN_SYNC", "NOT_DEPLOYED", "FAILED"]


class DriftError(CommandError):
    """An AWS call failed; the message names the account, region and call."""


@dataclass(frozen=True, kw_only=True)
class StackTarget:
    environment: str
    account: str
    region: str
    stack: str


@dataclass(frozen=True, kw_only=True)
class ResourceDrift:
    logical_id: str
    resource_type: str
    status: str
    properties: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class StackDrift:
    target: StackTarget
    status: Status
    reason: str = ""
    resources: tuple[ResourceDrift, ...] = field(default=())


def stack_targets(assembly: Path) -> list[StackTarget]:
    """Every stack of the assembly with the account and region it deploys to."""
    return [
        StackTarget(
            environment=stack.environment,
            account=stack.account,
            region=stack.region,
            stack=stack.name,
        )
        for stack in read_cloud_assembly(assembly).stacks
    ]


def _start(cloudformation: CloudFormationClient, stack: str) -> str | None:
    """The detection id, or None when the stack is not deployed (yet)."""
    try:
        return cloudformation.detect_stack_drift(StackName=stack)["StackDriftDetectionId"]
    except ClientError as error:
        if is_missing_stack(error):
            return None
        raise


def _resource_drifts(cloudformation: CloudFormationClient, stack: str) -> tuple[ResourceDrift, ...]:
    drifts: list[ResourceDrift] = []
    token: str | None = None
    while True:
        if token:
            page = cloudformation.describe_stack_resource_drifts(
                StackName=stack, StackResourceDriftStatusFilters=DRIFTED_STATUSES, NextToken=token
            )
        else:
            page = cloudformation.describe_stack_resource_drifts(
                StackName=stack, StackResourceDriftStatusFilters=DRIFTED_STATUSES
            )
        drifts += [
            ResourceDrift(
                logical_id=drift["LogicalResourceId"],
                resource_type=drift["ResourceType"],
                status=drift["StackResourceDriftStatus"],
                properties=tuple(
                    difference["PropertyPath"]
                    for difference in drift.get("PropertyDifferences", [])
                ),
            )
            for drift in page["StackResourceDrifts"]
        ]
        token = page.get("NextToken")
        if not token:
            return tuple(sorted(drifts, key=lambda d: d.logical_id))


def detect(
    cloudformation: CloudFormationClient,
    targets: list[StackTarget],
    *,
    timeout: float = TIMEOUT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[StackDrift]:
    """Drift of stacks sharing one account and region: all detections run at once."""
    results: dict[str, StackDrift] = {}
    pending: dict[str, str] = {}
    for target in targets:
        detection = _start(cloudformation, target.stack)
        if detection is None:
            results[target.stack] = StackDrift(target=target, status="NOT_DEPLOYED")
        else:
            pending[target.stack] = detection
    by_name = {target.stack: target for target in targets}
    deadline = clock() + timeout
    while pending:
        for stack, detection in list(pending.items()):
            status = cloudformation.describe_stack_drift_detection_status(
                StackDriftDetectionId=detection
            )
            if status["DetectionStatus"] == "DETECTION_IN_PROGRESS":
                continue
            del pending[stack]
            results[stack] = _finished(cloudformation, by_name[stack], status)
        if pending and clock() >= deadline:
            for stack in pending:
                results[stack] = StackDrift(
                    target=by_name[stack],
                    status="FAILED",
                    reason=f"no result within {timeout:g} s",
                )
            break
        if pending:
            sleep(poll_seconds)
    return [results[target.stack] for target in targets]


def _finished(cloudformation: CloudFormationClient, target: StackTarget, status: Any) -> StackDrift:
    # A failed detection may still have found drift in the resources it could check.
    reason = str(status.get("DetectionStatusReason", ""))
    failed = status["DetectionStatus"] == "DETECTION_FAILED"
    if status.get("StackDriftStatus") == "DRIFTED":
        resources = _resource_drifts(cloudformation, target.stack)
        return StackDrift(
            target=target,
            status="DRIFTED",
            reason=reason if failed else "",
            resources=resources,
        )
    if failed:
        return StackDrift(target=target, status="FAILED", reason=reason or "detection failed")
    return StackDrift(target=target, status="IN_SYNC")


def check(
    targets: list[StackTarget],
    client_for: Callable[[str, str], CloudFormationClient],
    **detect_options: Any,
) -> list[StackDrift]:
    """Drift of every target, one client per account and region."""
    groups: dict[tuple[str, str], list[StackTarget]] = {}
    for target in targets:
        groups.setdefault((target.account, target.region), []).append(target)
    found: dict[StackTarget, StackDrift] = {}
    for (account, region), group in groups.items():
        try:
            for drift in detect(client_for(account, region), group, **detect_options):
                found[drift.target] = drift
        except (ClientError, BotoCoreError) as error:
            raise DriftError(f"aws://{account}/{region}: {error}") from None
    return [found[target] for target in targets]


# ---------------------------------------------------------------- report
def drifted(results: list[StackDrift]) -> bool:
    return any(result.status == "DRIFTED" for result in results)


def to_json(results: list[StackDrift], checked_at: str) -> str:
    document = {
        "checked_at": checked_at,
        "drifted": drifted(results),
        "stacks": [asdict(result) for result in results],
    }
    return json.dumps(document, indent=2) + "\n"


def from_json(text: str) -> tuple[list[StackDrift], str]:
    """Results and check time of a drift.json; ValueError, KeyError or TypeError if not one."""
    document = json.loads(text)
    results = [
        StackDrift(
            target=StackTarget(**item["target"]),
            status=item["status"],
            reason=item["reason"],
            resources=tuple(
                ResourceDrift(**{**resource, "properties": tuple(resource["properties"])})
                for resource in item["resources"]
            ),
        )
        for item in document["stacks"]
    ]
    return results, str(document["checked_at"])


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(results: list[StackDrift], checked_at: str) -> str:
    count = sum(result.status == "DRIFTED" for result in results)
    lines = [
        "## Drift report",
        "",
        f"Checked {checked_at}: {len(results)} stacks, "
        + (f"**{count} drifted**." if count else "no drift."),
        "",
    ]
    environments: dict[str, list[StackDrift]] = {}
    for result in results:
        environments.setdefault(result.target.environment, []).append(result)
    for environment, stacks in environments.items():
        places = sorted({f"aws://{s.target.account}/{s.target.region}" for s in stacks})
        lines += [f"### {environment} ({', '.join(places)})", ""]
        for result in stacks:
            note = f" ({result.reason})" if result.reason else ""
            status = result.status.replace("_", " ").lower()
            if result.status in {"DRIFTED", "FAILED"}:
                status = f"**{status}**"
            lines.append(f"- `{result.target.stack}`: {status}{note}")
        for result in stacks:
            if not result.resources:
                continue
            lines += [
                "",
                f"#### `{result.target.stack}`",
                "",
                "| logical id | type | status | changed properties |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| `{r.logical_id}` | {r.resource_type} | {r.status} | "
                f"{_cell(', '.join(r.properties)) or '-'} |"
                for r in result.resources
            ]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- CLI
def _lookup_clients() -> Callable[[str, str], CloudFormationClient]:
    """CloudFormation clients through each account's lookup role, from the caller's credentials."""

    def client_for(account: str, region: str) -> CloudFormationClient:
        session = aws_session(
            region=region,
            role_arn=lookup_role_arn(account, region),
            session_name="drift-detection",
        )
        return session.client("cloudformation")

    return client_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Detect drift of every deployed stack")
    parser.add_argument("--assembly", type=Path, default=ASSEMBLY_DIR)
    parser.add_argument("--out", type=Path, required=True, help="Markdown report")
    args = parser.parse_args(argv)

    cloud_assembly_or_exit(args.assembly, command="drift")
    config = load_config_or_exit()
    targets = stack_targets(args.assembly)
    synthesized = {target.environment for target in targets}
    for name in [env.name for env in config.environments]:
        if name not in synthesized:
            print(f"drift: no stacks of environment {name!r} in {args.assembly}", file=sys.stderr)
            return BAD_INPUT
    try:
        results = check(targets, _lookup_clients())
    except DriftError as error:
        print(f"drift: AWS call failed: {error}", file=sys.stderr)
        return error.exit_code
    checked_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = render(results, checked_at)
    write_atomically(args.out.parent / "drift.json", to_json(results, checked_at))
    write_atomically(args.out, report)
    print(report, end="")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
