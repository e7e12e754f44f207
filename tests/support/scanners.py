"""The policy gate's scanner results as JSON, so one run can be shared by every xdist worker
(tests/support/shared.py): the decoded value equals the report the scanner returned."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from policies.gate import CheckovReport, CheckResult, Finding


def encode_findings(findings: list[Finding]) -> list[dict[str, str]]:
    return [asdict(finding) for finding in findings]


def decode_findings(document: list[dict[str, str]]) -> list[Finding]:
    return [Finding(**finding) for finding in document]


def encode_checkov(report: CheckovReport) -> dict[str, Any]:
    return asdict(report)


def decode_checkov(document: dict[str, Any]) -> CheckovReport:
    return CheckovReport(
        failed=decode_findings(document["failed"]),
        skipped=list(document["skipped"]),
        passed_checks=[CheckResult(**result) for result in document["passed_checks"]],
        failed_checks=[CheckResult(**result) for result in document["failed_checks"]],
    )
