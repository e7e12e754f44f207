#!/usr/bin/env python3
"""What the review-time checks cost: the policy gate's scanners and the workflow linters.

Over the synthesized assembly in cdk.out (run `make synth` first): cfn-lint, checkov with its
own checks only, checkov with the organisation's checks added (policies/checks), and the three
workflow linters. Prints wall-clock medians (and min/max) over a few runs. Run with
`make bench-checks`. Figures only: nothing here is asserted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from config.exit_codes import BAD_INPUT, SUCCESS
from config.paths import ASSEMBLY_DIR, ROOT

TOOLS_BIN = ROOT / ".venv-tools" / "bin"
PROJECT_BIN = Path(sys.executable).parent
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
ASSEMBLY = ASSEMBLY_DIR
CHECKOV = [
    str(TOOLS_BIN / "checkov"),
    "--config-file",
    str(ROOT / "policies" / "checkov.yaml"),
    "--directory",
    str(ASSEMBLY),
    "--output",
    "json",
]


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    # Exit codes are ignored: a finding still costs the same time to find.
    subprocess.run(command, cwd=ROOT, check=False, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    templates = sorted(ASSEMBLY.rglob("*.template.json"))
    if not templates:
        print(f"no templates under {ASSEMBLY}: run `make synth` first", file=sys.stderr)
        return BAD_INPUT
    commands = {
        "cfn-lint (all templates)": [str(PROJECT_BIN / "cfn-lint"), *map(str, templates)],
        "checkov, its own checks": CHECKOV,
        "checkov + policies/checks (what the gate runs)": [
            *CHECKOV,
            "--external-checks-dir",
            str(ROOT / "policies" / "checks"),
        ],
        "actionlint (3 workflows)": [str(TOOLS_BIN / "actionlint")],
        "zizmor --offline --persona=pedantic": [
            str(TOOLS_BIN / "zizmor"),
            "--offline",
            "--persona=pedantic",
            "--no-progress",
            ".",
        ],
        "house rules (policies.workflows)": [sys.executable, "-m", "policies.workflows"],
    }
    print(
        f"review-time checks, {len(templates)} templates, {RUNS} runs each, "
        f"{os.cpu_count()} CPUs, wall clock seconds"
    )
    print(f"{'what':<50} {'median':>7} {'min':>7} {'max':>7}")
    for label, command in commands.items():
        samples = [_seconds(command) for _ in range(RUNS)]
        print(
            f"{label:<50} {statistics.median(samples):>7.2f} "
            f"{min(samples):>7.2f} {max(samples):>7.2f}"
        )
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
