"""The image scan gate for pull requests: Trivy findings judged by the pipeline's own rules.

Pull requests build each image locally (no registry, no credentials), so ECR cannot scan them.
Trivy does, and its findings go through the same `scan_gate.evaluate` as ECR's: the same
threshold and the same reviewed exceptions (policies/image-scan-exceptions.yaml), so a finding
that would stop the pipeline stops the pull request first, and an accepted one passes both.

    python -m ops.images.trivy_scan --service api --image local/api:pr    (`make image-scan`)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from config.exit_codes import FAILURE
from ops.images.scan_gate import (
    EXCEPTIONS_FILE,
    SEVERITIES,
    Finding,
    ScanGateError,
    judge,
    load_exceptions,
)

Scanner = Callable[[Sequence[str]], str]


def run_trivy(command: Sequence[str]) -> str:
    completed = subprocess.run(  # noqa: S603 - fixed trivy argv, no shell
        list(command), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise ScanGateError(f"trivy failed (exit {completed.returncode}): {last}")
    return completed.stdout


def trivy_command(image: str) -> list[str]:
    # Every severity is reported; the gate, not Trivy, decides what blocks.
    return ["trivy", "image", "--quiet", "--format", "json", "--scanners", "vuln", image]


def _package(vulnerability: dict[str, Any]) -> str:
    return f"{vulnerability.get('PkgName', '')} {vulnerability.get('InstalledVersion', '')}".strip()


def parse_findings(document: dict[str, Any], *, service: str) -> list[Finding]:
    """Trivy's JSON report (one result per OS or language package set) as gate findings."""
    return [
        Finding(
            service=service,
            name=vulnerability["VulnerabilityID"],
            severity=vulnerability.get("Severity", "UNKNOWN"),
            package=_package(vulnerability),
        )
        for result in document.get("Results") or []
        for vulnerability in result.get("Vulnerabilities") or []
    ]


def scan(image: str, *, service: str, scanner: Scanner = run_trivy) -> list[Finding]:
    output = scanner(trivy_command(image))
    try:
        document = json.loads(output)
    except json.JSONDecodeError:
        raise ScanGateError(f"trivy printed no JSON report for {image}") from None
    return parse_findings(document, service=service)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Trivy scan of a local image, gated")
    parser.add_argument("--service", required=True, help="service name the exceptions refer to")
    parser.add_argument("--image", required=True, help="local image reference to scan")
    parser.add_argument("--threshold", choices=SEVERITIES, default="HIGH")
    parser.add_argument("--exceptions", type=Path, default=EXCEPTIONS_FILE)
    args = parser.parse_args(argv)
    try:
        exceptions = load_exceptions(args.exceptions)
        findings = scan(args.image, service=args.service)
    except ScanGateError as error:
        print(f"image scan gate: {error}", file=sys.stderr)
        return error.exit_code
    except FileNotFoundError:
        print(
            "image scan gate: trivy is not installed (see aquasecurity/setup-trivy)",
            file=sys.stderr,
        )
        return FAILURE
    return judge(findings, threshold=args.threshold, exceptions=exceptions)


if __name__ == "__main__":
    raise SystemExit(main())
