"""The image scan gate: waits for the scan, blocks at the threshold, honours reviewed exceptions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops.images.scan_gate import (
    EXCEPTIONS_FILE,
    Finding,
    ScanException,
    ScanGateError,
    evaluate,
    image_findings,
    load_exceptions,
    report,
)

TODAY = dt.date(2026, 11, 21)


def _finding(name: str, severity: str, service: str = "api") -> Finding:
    return Finding(service=service, name=name, severity=severity, package="openssl 3.0.1")


def _exception(finding: str, expires: dt.date, services: list[str] | None = None) -> ScanException:
    return ScanException(
        finding=finding,
        services=services or ["api"],
        reason="not reachable from the API's code paths",
        approved_by="security",
        expires=expires,
    )


def test_findings_below_the_threshold_do_not_block() -> None:
    result = evaluate([_finding("CVE-1", "MEDIUM")], threshold="HIGH", exceptions=[], today=TODAY)
    assert result.passed and result.blocking == []


@pytest.mark.parametrize("severity", ["HIGH", "CRITICAL", "UNDEFINED"])
def test_findings_at_or_above_the_threshold_block(severity: str) -> None:
    result = evaluate([_finding("CVE-1", severity)], threshold="HIGH", exceptions=[], today=TODAY)
    assert not result.passed
    assert [f.name for f in result.blocking] == ["CVE-1"]


def test_a_valid_exception_accepts_only_its_finding_for_its_services() -> None:
    findings = [
        _finding("CVE-1", "HIGH"),
        _finding("CVE-1", "HIGH", "worker"),
        _finding("CVE-2", "CRITICAL"),
    ]
    result = evaluate(
        findings, threshold="HIGH", exceptions=[_exception("CVE-1", TODAY)], today=TODAY
    )
    assert [(f.name, f.service) for f in result.accepted] == [("CVE-1", "api")]
    assert [(f.name, f.service) for f in result.blocking] == [("CVE-1", "worker"), ("CVE-2", "api")]


def test_an_expired_exception_no_longer_applies_and_is_reported() -> None:
    expired = _exception("CVE-1", TODAY - dt.timedelta(days=1), ["*"])
    result = evaluate(
        [_finding("CVE-1", "HIGH")], threshold="HIGH", exceptions=[expired], today=TODAY
    )
    assert not result.passed
    text = report(result, threshold="HIGH")
    assert "expired exception CVE-1 (2026-11-20): no longer applied" in text
    assert "BLOCKING  api      HIGH      CVE-1" in text
    assert text.endswith("image scan gate: FAILED: 1 blocking findings")


def test_shipped_exceptions_file_is_valid() -> None:
    assert load_exceptions(EXCEPTIONS_FILE) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "exceptions:\n  - finding: CVE-1\n    services: [api]\n    reason: short\n"
            "    approved_by: sec\n    expires: 2027-01-01\n",
            "exceptions.0.reason",
        ),
        (
            "exceptions:\n  - finding: CVE-1\n    services: [api]\n"
            "    reason: a reason that is long enough\n    approved_by: sec\n",
            "exceptions.0.expires: Field required",
        ),
        ("exceptions: [\n", "cannot be read"),
    ],
)
def test_a_bad_exceptions_file_is_an_error_naming_the_entry(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "exceptions.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ScanGateError, match=message.replace(".", r"\.")):
        load_exceptions(path)


def _scan_response(
    status: str, findings: list[dict[str, Any]], token: str | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "repositoryName": "todo/api",
        "imageId": {"imageTag": "abc"},
        "imageScanStatus": {"status": status},
        "imageScanFindings": {"findings": findings},
    }
    if token:
        response["nextToken"] = token
    return response


def test_image_findings_waits_for_the_scan_then_reads_every_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ops.images.scan_gate.WAIT_DELAY_SECONDS", 1)
    ecr = boto3.client(
        "ecr", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    params = {"repositoryName": "todo/api", "imageId": {"imageTag": "abc"}}
    cve = {
        "name": "CVE-9",
        "severity": "CRITICAL",
        "attributes": [
            {"key": "package_name", "value": "zlib"},
            {"key": "package_version", "value": "1.2"},
        ],
    }
    with Stubber(ecr) as stub:
        stub.add_response("describe_image_scan_findings", _scan_response("IN_PROGRESS", []), params)
        stub.add_response("describe_image_scan_findings", _scan_response("COMPLETE", []), params)
        stub.add_response(
            "describe_image_scan_findings", _scan_response("COMPLETE", [cve], token="t"), params
        )
        stub.add_response(
            "describe_image_scan_findings",
            _scan_response("COMPLETE", [{**cve, "name": "CVE-10", "severity": "LOW"}]),
            {**params, "nextToken": "t"},
        )
        findings = image_findings(ecr, service="api", repository="todo/api", tag="abc")
        stub.assert_no_pending_responses()
    assert findings == [
        Finding(service="api", name="CVE-9", severity="CRITICAL", package="zlib 1.2"),
        Finding(service="api", name="CVE-10", severity="LOW", package="zlib 1.2"),
    ]


def test_a_failed_scan_stops_the_gate() -> None:
    ecr = boto3.client(
        "ecr", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(ecr) as stub:
        stub.add_response("describe_image_scan_findings", _scan_response("FAILED", []))
        with pytest.raises(ScanGateError, match="todo/api:abc: scan did not complete"):
            image_findings(ecr, service="api", repository="todo/api", tag="abc")
