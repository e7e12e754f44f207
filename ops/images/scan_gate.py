"""Image scan gate: no image of this commit reaches an environment with unreviewed findings.

For every service image of the commit (the same content-fingerprint tags the templates
reference), wait until ECR has scanned it, then fail on any finding at or above the threshold
severity that is not covered by a reviewed, unexpired exception in
policies/image-scan-exceptions.yaml. Every finding that blocks is printed.

Run by the pipeline before the first environment (`make scan-gate`), and by hand the same way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.exit_codes import FAILURE, SUCCESS
from config.paths import ROOT
from ops.common import CommandError, load_config_or_exit
from ops.images.build import NOT_YET, in_this_pipeline

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import AttributeTypeDef

SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
EXCEPTIONS_FILE = ROOT / "policies" / "image-scan-exceptions.yaml"
# ECR basic scans usually finish within a minute or two; give up after ~15 minutes.
WAIT_DELAY_SECONDS = 15
WAIT_MAX_ATTEMPTS = 60


class ScanGateError(CommandError):
    """The gate cannot decide (scan failed, unreadable exceptions file): treat as a failure."""


class ScanException(BaseModel):
    """A reviewed decision to accept one finding for a while."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    finding: str = Field(min_length=3)  # e.g. CVE-2026-12345
    services: list[str] = Field(min_length=1)  # images it applies to, or ["*"]
    reason: str = Field(min_length=20)
    approved_by: str = Field(min_length=2)
    expires: dt.date

    def covers(self, finding: str, service: str) -> bool:
        return self.finding == finding and ("*" in self.services or service in self.services)


class ExceptionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    exceptions: list[ScanException] = Field(default_factory=list)


def load_exceptions(path: Path = EXCEPTIONS_FILE) -> list[ScanException]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ScanGateError(f"{path}: cannot be read ({error})") from None
    try:
        # YAML dates arrive as datetime.date already, which strict mode accepts.
        return ExceptionsFile.model_validate(document).exceptions
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ScanGateError(f"{path}: {where}: {first['msg']}") from None


@dataclass(frozen=True, kw_only=True)
class Finding:
    service: str
    name: str
    severity: str
    package: str

    def __str__(self) -> str:
        return f"{self.service:<8} {self.severity:<9} {self.name:<20} {self.package}"


@dataclass(frozen=True, kw_only=True)
class GateResult:
    blocking: list[Finding]
    accepted: list[Finding]
    expired: list[ScanException]

    @property
    def passed(self) -> bool:
        return not self.blocking


def _at_or_above(severity: str, threshold: str) -> bool:
    rank = {name: index for index, name in enumerate(SEVERITIES)}
    # Unknown severities (e.g. UNDEFINED) count as blocking: better a look than a miss.
    return rank.get(severity, len(SEVERITIES)) >= rank[threshold]


def _package(attributes: Iterable[AttributeTypeDef]) -> str:
    values = {attribute["key"]: attribute.get("value", "") for attribute in attributes}
    name, version = values.get("package_name", ""), values.get("package_version", "")
    return f"{name} {version}".strip()


def image_findings(ecr: ECRClient, *, service: str, repository: str, tag: str) -> list[Finding]:
    """Wait for the scan of ``repository:tag`` and return all of its findings."""
    try:
        ecr.get_waiter("image_scan_complete").wait(
            repositoryName=repository,
            imageId={"imageTag": tag},
            WaiterConfig={"Delay": WAIT_DELAY_SECONDS, "MaxAttempts": WAIT_MAX_ATTEMPTS},
        )
    except Exception as error:  # botocore's WaiterError: the scan failed or never finished
        raise ScanGateError(f"{repository}:{tag}: scan did not complete ({error})") from None
    findings = []
    pages = ecr.get_paginator("describe_image_scan_findings").paginate(
        repositoryName=repository, imageId={"imageTag": tag}
    )
    for page in pages:
        for finding in page.get("imageScanFindings", {}).get("findings", []):
            findings.append(
                Finding(
                    service=service,
                    name=finding["name"],
                    severity=finding.get("severity", "UNDEFINED"),
                    package=_package(finding.get("attributes", [])),
                )
            )
    return findings


def evaluate(
    findings: Iterable[Finding],
    *,
    threshold: str,
    exceptions: list[ScanException],
    today: dt.date,
) -> GateResult:
    valid = [exception for exception in exceptions if exception.expires >= today]
    expired = [exception for exception in exceptions if exception.expires < today]
    blocking, accepted = [], []
    for finding in findings:
        if not _at_or_above(finding.severity, threshold):
            continue
        if any(exception.covers(finding.name, finding.service) for exception in valid):
            accepted.append(finding)
        else:
            blocking.append(finding)
    return GateResult(blocking=blocking, accepted=accepted, expired=expired)


def report(result: GateResult, *, threshold: str) -> str:
    lines = [f"Image scan gate (fail on {threshold} and above)"]
    for exception in result.expired:
        lines.append(
            f"  expired exception {exception.finding} ({exception.expires}): no longer applied"
        )
    for finding in result.accepted:
        lines.append(f"  accepted  {finding}")
    for finding in result.blocking:
        lines.append(f"  BLOCKING  {finding}")
    verdict = "passed" if result.passed else f"FAILED: {len(result.blocking)} blocking findings"
    lines.append(f"image scan gate: {verdict}")
    return "\n".join(lines)


def judge(findings: Iterable[Finding], *, threshold: str, exceptions: list[ScanException]) -> int:
    """Print today's verdict on ``findings``; the exit code of whichever scanner found them."""
    result = evaluate(
        findings, threshold=threshold, exceptions=exceptions, today=dt.datetime.now(dt.UTC).date()
    )
    print(report(result, threshold=threshold))
    return SUCCESS if result.passed else FAILURE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--threshold", choices=SEVERITIES, default="HIGH")
    parser.add_argument("--exceptions", type=Path, default=EXCEPTIONS_FILE)
    args = parser.parse_args(argv)

    # Imported here: tests drive evaluate() without AWS or the CDK.
    import boto3  # noqa: PLC0415

    from infra.images import pipeline_images  # noqa: PLC0415

    config = load_config_or_exit()
    try:
        exceptions = load_exceptions(args.exceptions)
        images, later = in_this_pipeline(pipeline_images(config))
        for name in later:
            print(f"image scan gate: {name}: {NOT_YET} (scanned then)")
        ecr = boto3.client("ecr", region_name=config.pipeline.region)
        findings = [
            finding
            for image in images.values()
            for finding in image_findings(
                ecr, service=image.service, repository=image.repository_name, tag=image.tag
            )
        ]
    except ScanGateError as error:
        print(f"image scan gate: {error}", file=sys.stderr)
        return error.exit_code
    return judge(findings, threshold=args.threshold, exceptions=exceptions)


if __name__ == "__main__":
    raise SystemExit(main())
