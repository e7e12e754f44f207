"""Runs the service-grant checks over a cloud assembly (or a fixture) the way the gate reports.

Each check judges whole-assembly relations (see model.py for why not checkov). A resource
skips one check with the same resource metadata checkov reads, written by
infra.compliance.skip_checkov: ``Metadata.checkov.skip: [{id, comment}]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from policies.checks.grants import (
    log_buckets,
    log_group_keys,
    queue_senders,
    sender_keys,
    service_invokes,
    topic_publishers,
)
from policies.checks.grants.judge import GrantCheck
from policies.checks.grants.model import Assembly, ResourceId

CHECKS: tuple[GrantCheck, ...] = (
    log_group_keys.CHECK,
    topic_publishers.CHECK,
    queue_senders.CHECK,
    sender_keys.CHECK,
    log_buckets.CHECK,
    service_invokes.CHECK,
)


@dataclass(frozen=True)
class GrantResult:
    check_id: str
    name: str
    resource: str
    file_path: str
    problems: tuple[str, ...] = ()
    skip_comment: str | None = None


@dataclass
class GrantReport:
    passed_checks: list[GrantResult] = field(default_factory=list)
    failed_checks: list[GrantResult] = field(default_factory=list)
    skipped_checks: list[GrantResult] = field(default_factory=list)


def _skip_comment(assembly: Assembly, rid: ResourceId, check_id: str) -> str | None:
    metadata = assembly.resource(rid).get("Metadata") or {}
    for skip in (metadata.get("checkov") or {}).get("skip") or []:
        if skip.get("id") == check_id:
            return str(skip.get("comment", ""))
    return None


def run_grant_checks(assembly: Assembly, *, checks: Iterable[str] | None = None) -> GrantReport:
    wanted = set(checks) if checks is not None else None
    report = GrantReport()
    for check in CHECKS:
        if wanted is not None and check.id not in wanted:
            continue
        for rid, problems in sorted(check.evaluate(assembly).items(), key=lambda i: str(i[0])):
            result = GrantResult(
                check_id=check.id,
                name=check.name,
                resource=f"{assembly.type_of(rid)}.{rid.logical_id}",
                file_path=str(assembly.stacks[rid.stack].file),
                problems=tuple(problems),
                skip_comment=_skip_comment(assembly, rid, check.id),
            )
            if result.skip_comment is not None:
                report.skipped_checks.append(result)
            elif problems:
                report.failed_checks.append(result)
            else:
                report.passed_checks.append(result)
    return report


def check_ids() -> set[str]:
    return {check.id for check in CHECKS}
