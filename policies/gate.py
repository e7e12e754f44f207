"""The policy gate over a synthesized cloud assembly: cfn-lint, checkov, service grants.

cdk-nag already ran inside synthesis (an unacknowledged finding stops it), so here it is only
reported. checkov runs from its own virtualenv (.venv-tools) because it pins an old boto3;
cfn-lint lives in the project environment. The service-grant checks (policies/checks/grants/)
judge relations across stacks that checkov cannot see, in this process.
`python -m policies.gate cdk.out` prints a summary and exits 1 on any finding.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.exit_codes import FAILURE, SUCCESS
from config.model import ConfigError, config_file, load_config
from config.paths import ASSEMBLY_DIR, ROOT
from policies.checks.grants.model import load_cloud_assembly
from policies.checks.grants.runner import GrantReport, run_grant_checks
from policies.pipeline_integrity import INVARIANTS, judge_assembly

TOOLS_BIN = ROOT / ".venv-tools" / "bin"
PROJECT_BIN = Path(sys.executable).parent
CHECKOV_CONFIG = Path(__file__).resolve().parent / "checkov.yaml"
# Passed on the command line because a relative path in checkov.yaml would depend on the cwd.
CUSTOM_CHECKS = Path(__file__).resolve().parent / "checks"
CUSTOM_CHECK_PREFIX = "CKV_TODO_"


@dataclass(frozen=True, kw_only=True)
class Finding:
    tool: str
    rule: str
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.tool} {self.rule} {self.location}: {self.message}"


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    check_id: str
    resource: str
    file_path: str


@dataclass(frozen=True, kw_only=True)
class CheckovReport:
    failed: list[Finding]
    skipped: list[dict[str, Any]]
    passed_checks: list[CheckResult]
    failed_checks: list[CheckResult]

    @property
    def passed(self) -> int:
        return len(self.passed_checks)

    def custom_checks_passed(self) -> set[str]:
        return {
            result.check_id
            for result in self.passed_checks
            if result.check_id.startswith(CUSTOM_CHECK_PREFIX)
        }


def templates_in(assembly: Path) -> list[Path]:
    templates = sorted(assembly.rglob("*.template.json"))
    if not templates:
        raise FileNotFoundError(f"no *.template.json under {assembly}: run `make synth` first")
    return templates


def run_cfn_lint(templates: list[Path]) -> list[Finding]:
    """cfn-lint errors and warnings (informational notes do not count)."""
    completed = subprocess.run(  # noqa: S603 - our own tool path and file list, no shell
        [str(PROJECT_BIN / "cfn-lint"), "--format", "json", "--", *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        matches = json.loads(completed.stdout or "[]")
    except json.JSONDecodeError:
        raise RuntimeError(f"cfn-lint failed to run: {completed.stderr.strip()}") from None
    return [
        Finding(
            tool="cfn-lint",
            rule=match["Rule"]["Id"],
            location=f"{match['Filename']}:{match['Location']['Start']['LineNumber']}",
            message=match["Message"],
        )
        for match in matches
        if match["Level"] in {"Error", "Warning"}
    ]


def _results(checks: list[dict[str, Any]]) -> list[CheckResult]:
    return [
        CheckResult(check_id=c["check_id"], resource=c["resource"], file_path=c["file_path"])
        for c in checks
    ]


def run_checkov(assembly: Path, *, checks: list[str] | None = None) -> CheckovReport:
    """checkov over every template under ``assembly`` (only ``checks`` when given)."""
    only = ["--check", ",".join(checks)] if checks else []
    completed = subprocess.run(  # noqa: S603 - our own tool path and arguments, no shell
        [
            str(TOOLS_BIN / "checkov"),
            "--config-file",
            str(CHECKOV_CONFIG),
            "--external-checks-dir",
            str(CUSTOM_CHECKS),
            "--directory",
            str(assembly),
            "--output",
            "json",
            *only,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        document = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"checkov failed to run: {completed.stderr.strip()}") from None
    # With nothing to report checkov prints a bare summary instead of a report.
    reports = document if isinstance(document, list) else [document]
    failed, skipped = [], []
    passed_checks: list[CheckResult] = []
    failed_checks: list[CheckResult] = []
    for report in reports:
        results = report.get("results", {})
        skipped += results.get("skipped_checks", [])
        passed_checks += _results(results.get("passed_checks", []))
        failed_checks += _results(results.get("failed_checks", []))
        failed += [
            Finding(
                tool="checkov",
                rule=check["check_id"],
                location=f"{check['file_path']} {check['resource']}",
                message=check["check_name"],
            )
            for check in results.get("failed_checks", [])
        ]
    return CheckovReport(
        failed=failed,
        skipped=skipped,
        passed_checks=passed_checks,
        failed_checks=failed_checks,
    )


def builtin_check_ids() -> set[str]:
    """Ids of checkov's own CloudFormation checks (its --list leaves external checks out)."""
    completed = subprocess.run(  # noqa: S603 - our own tool path and arguments, no shell
        [
            str(TOOLS_BIN / "checkov"),
            "--list",
            "--framework",
            "cloudformation",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    ids = set(re.findall(r"\|\s*(CKV2?_[A-Z0-9]+_\d+)\s*\|", completed.stdout))
    if completed.returncode != 0 or not ids:
        raise RuntimeError(f"checkov --list failed: {completed.stderr.strip()}")
    return ids


def nag_report(assembly: Path) -> tuple[list[Finding], int]:
    """Unacknowledged and acknowledged cdk-nag findings from the synth's validation report."""
    report_file = assembly / "validation-report.json"
    if not report_file.exists():
        raise FileNotFoundError(f"{report_file} is missing: synth did not run the nag plugin")
    report = json.loads(report_file.read_text(encoding="utf-8"))
    violations, acknowledged = [], 0
    for plugin in report["pluginReports"]:
        for violation in plugin.get("violations", []):
            violations += [
                Finding(
                    tool=plugin["pluginName"],
                    rule=violation["ruleName"],
                    location=construct["constructPath"],
                    message=violation["description"],
                )
                for construct in violation["violatingConstructs"]
            ]
        for suppressed in plugin.get("suppressedViolations", []):
            acknowledged += len(suppressed["violatingConstructs"])
    return violations, acknowledged


def grant_findings(report: GrantReport) -> list[Finding]:
    return [
        Finding(
            tool="grants",
            rule=result.check_id,
            location=f"{result.file_path} {result.resource}",
            message="; ".join(result.problems),
        )
        for result in report.failed_checks
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    assembly = Path(args[0]) if args else ASSEMBLY_DIR
    try:
        nag, acknowledged = nag_report(assembly)
        templates = templates_in(assembly)
        lint = run_cfn_lint(templates)
        checkov = run_checkov(assembly)
        grants = run_grant_checks(load_cloud_assembly(assembly))
        config = load_config(config_file())
        integrity = judge_assembly(
            assembly,
            list(config.environments),
            pipeline_account=config.pipeline.account,
            project=config.project.name,
        )
    except (FileNotFoundError, RuntimeError, ValueError, ConfigError) as error:
        print(f"policy gate: {error}", file=sys.stderr)
        return FAILURE

    print(f"Policy gate over {len(templates)} templates in {assembly}")
    print(
        f"  cdk-nag AwsSolutions  {len(nag)} findings ({acknowledged} acknowledged with a reason)"
    )
    print(f"  cfn-lint              {len(lint)} errors/warnings")
    print(
        f"  checkov               {checkov.passed} passed, {len(checkov.failed)} failed, "
        f"{len(checkov.skipped)} skipped with a reason"
    )
    granted = grant_findings(grants)
    print(
        f"  service grants        {len(grants.passed_checks)} passed, {len(granted)} failed, "
        f"{len(grants.skipped_checks)} skipped with a reason"
    )
    passed_ids = checkov.custom_checks_passed() | {r.check_id for r in grants.passed_checks}
    custom = sorted(passed_ids, key=lambda check_id: int(check_id.rsplit("_", 1)[1]))
    print(f"  custom checks passed  {', '.join(custom) or 'none'}")
    print(
        f"  pipeline integrity    {len(INVARIANTS)} invariants ({', '.join(INVARIANTS)}), "
        f"{len(integrity)} violated"
    )
    for finding in [*nag, *lint, *checkov.failed, *granted, *integrity]:
        print(f"    {finding}")
    if nag or lint or checkov.failed or granted or integrity:
        print("policy gate: FAILED")
        return FAILURE
    print("policy gate: passed")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
