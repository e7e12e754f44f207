"""The pull-request image gate: Trivy's report judged by the pipeline's scan-gate rules."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from config.paths import ROOT
from ops.images.scan_gate import ScanException, ScanGateError, evaluate
from ops.images.trivy_scan import main, parse_findings, scan, trivy_command

REPORT = {
    "SchemaVersion": 2,
    "ArtifactName": "local/api:pr",
    "Results": [
        {
            "Target": "local/api:pr (debian 12.8)",
            "Class": "os-pkgs",
            "Vulnerabilities": [
                {
                    "VulnerabilityID": "CVE-2026-0001",
                    "PkgName": "zlib1g",
                    "InstalledVersion": "1:1.2.13.dfsg-1",
                    "Severity": "CRITICAL",
                },
                {
                    "VulnerabilityID": "CVE-2026-0002",
                    "PkgName": "libc6",
                    "InstalledVersion": "2.36-9",
                    "Severity": "LOW",
                },
            ],
        },
        {
            "Target": "Python",
            "Class": "lang-pkgs",
            "Vulnerabilities": [
                {
                    "VulnerabilityID": "GHSA-aaaa-bbbb-cccc",
                    "PkgName": "starlette",
                    "InstalledVersion": "0.40.0",
                    "Severity": "HIGH",
                }
            ],
        },
        {"Target": "usr/local/lib/python3.11/site-packages", "Class": "lang-pkgs"},
    ],
}
TODAY = dt.date(2026, 11, 22)


def test_every_vulnerability_of_every_result_becomes_a_finding() -> None:
    findings = parse_findings(REPORT, service="api")
    assert [(f.name, f.severity, f.package) for f in findings] == [
        ("CVE-2026-0001", "CRITICAL", "zlib1g 1:1.2.13.dfsg-1"),
        ("CVE-2026-0002", "LOW", "libc6 2.36-9"),
        ("GHSA-aaaa-bbbb-cccc", "HIGH", "starlette 0.40.0"),
    ]
    assert {f.service for f in findings} == {"api"}


def test_a_reviewed_exception_accepts_one_finding_and_the_rest_still_block() -> None:
    exception = ScanException(
        finding="GHSA-aaaa-bbbb-cccc",
        services=["api"],
        reason="the vulnerable multipart parser is not mounted by the API",
        approved_by="security-team",
        expires=dt.date(2026, 12, 31),
    )
    result = evaluate(
        parse_findings(REPORT, service="api"), threshold="HIGH", exceptions=[exception], today=TODAY
    )
    assert [f.name for f in result.blocking] == ["CVE-2026-0001"]
    assert [f.name for f in result.accepted] == ["GHSA-aaaa-bbbb-cccc"]
    worker = evaluate(
        parse_findings(REPORT, service="worker"),
        threshold="HIGH",
        exceptions=[exception],
        today=TODAY,
    )
    assert [f.name for f in worker.blocking] == ["CVE-2026-0001", "GHSA-aaaa-bbbb-cccc"]


def test_scan_runs_trivy_on_the_local_image_and_rejects_a_non_report() -> None:
    seen: list[Sequence[str]] = []

    def scanner(command: Sequence[str]) -> str:
        seen.append(command)
        return json.dumps(REPORT)

    assert len(scan("local/api:pr", service="api", scanner=scanner)) == 3
    assert seen == [trivy_command("local/api:pr")]
    assert seen[0][-1] == "local/api:pr" and "--format" in seen[0]
    with pytest.raises(ScanGateError, match="no JSON report for local/api:pr"):
        scan("local/api:pr", service="api", scanner=lambda _: "FATAL no such image")


def test_cli_without_trivy_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["--service", "api", "--image", "local/api:pr"]) == 1
    assert capsys.readouterr().err.strip() == (
        "image scan gate: trivy is not installed (see aquasecurity/setup-trivy)"
    )


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_make_builds_the_service_image_as_the_pipeline_does() -> None:
    result = _make("image-build", "SERVICE=worker")
    assert result.returncode == 0, result.stderr
    # make -n echoes the recipe's line continuations too
    assert [word for word in result.stdout.split() if word != "\\"] == [
        *["docker", "buildx", "build", "--load", "--pull", "--file", "services/worker/Dockerfile"],
        *["--tag", "local/worker:pr", "services"],
    ]


def test_make_refuses_an_unknown_service_before_running_anything() -> None:
    result = _make("image-build", "image-scan", "SERVICE=nope")
    assert result.returncode != 0
    assert result.stdout == ""
    assert "SERVICE must be one of: api worker (got 'nope')" in result.stderr
