#!/usr/bin/env python3
"""The pytest suite's wall time and its ten slowest tests, against a baseline in the same run.

`make bench` runs it. The suite runs as `make pytest` runs it (``-n auto --dist loadgroup``);
the baseline is the same command with ``--collect-only``: starting the workers, importing every
test module and collecting, with no test run. The ratio of the two is what compares across
machines and loads; the seconds alone depend on both. Figures only: a failing test is reported
with the figures (and the exit status), never hidden. Arguments after the command are handed to
pytest (e.g. a path to time one directory).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from config.exit_codes import SUCCESS
from config.paths import ROOT

SLOWEST = 10
_DURATION = re.compile(r"^\s*(\d+\.\d+)s\s+(setup|call|teardown)\s+(\S+)")
# The last line: "3 failed, 900 passed in 380.12s (0:06:20)", framed by "=" unless -q.
_SUMMARY = re.compile(r"^=*\s*(\d+ \w+.*\bin [\d.]+s\b.*?)\s*=*$")
_PROBLEM = re.compile(r"^(FAILED|ERROR) ")
# The whole output of the timed run, for the failures and tracebacks the figures leave out.
LOG = ROOT / "build" / "bench" / "suite-pytest.log"


@dataclass(frozen=True)
class Run:
    label: str
    seconds: float
    returncode: int
    summary: str
    slowest: list[tuple[float, str, str]]  # (seconds, phase, test id)
    problems: list[str]  # pytest's "FAILED <id> - ..." and "ERROR <id> - ..." lines


def parse(label: str, seconds: float, returncode: int, output: str) -> Run:
    """pytest's --durations table and final summary line, read from its output."""
    lines = output.splitlines()
    slowest = [
        (float(match[1]), match[2], match[3]) for line in lines if (match := _DURATION.match(line))
    ]
    summaries = [match[1] for line in lines if (match := _SUMMARY.match(line))]
    return Run(
        label=label,
        seconds=seconds,
        returncode=returncode,
        summary=summaries[-1] if summaries else "no summary (see the exit status)",
        slowest=sorted(slowest, reverse=True)[:SLOWEST],
        problems=[line for line in lines if _PROBLEM.match(line)],
    )


def _pytest(label: str, args: Sequence[str]) -> Run:
    command = [sys.executable, "-m", "pytest", "-n", "auto", "--dist", "loadgroup", *args]
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if "--collect-only" not in args:
        LOG.parent.mkdir(parents=True, exist_ok=True)
        LOG.write_text(completed.stdout + completed.stderr, encoding="utf-8")
    return parse(label, seconds, completed.returncode, completed.stdout)


def report(baseline: Run, suite: Run) -> str:
    lines = [
        f"{'run':<44} {'wall s':>8} {'x baseline':>10}  exit",
        *(
            f"{run.label:<44} {run.seconds:8.1f} {run.seconds / baseline.seconds:10.1f}"
            f"  {run.returncode}"
            for run in (baseline, suite)
        ),
        f"suite: {suite.summary}",
        f"slowest {SLOWEST} (setup includes the session's shared syntheses and scans):",
        *(f"  {seconds:7.1f}s {phase:<8} {test}" for seconds, phase, test in suite.slowest),
        *(
            [f"not passed ({len(suite.problems)}), the whole output in {LOG}:"]
            if suite.problems
            else []
        ),
        *(f"  {line}" for line in suite.problems),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    extra = sys.argv[1:] if argv is None else argv
    common = ["-q", "-p", "no:cacheprovider", *extra]
    baseline = _pytest("baseline: start-up and collection only", [*common, "--collect-only"])
    suite = _pytest("pytest suite (-n auto --dist loadgroup)", [*common, f"--durations={SLOWEST}"])
    print(report(baseline, suite))
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
