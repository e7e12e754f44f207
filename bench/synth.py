#!/usr/bin/env python3
"""Synth cost: the whole delivery system against an empty CDK app, in the same run.

Prints wall-clock medians (and min/max) over a few runs, and the ratio. The empty app measures
the fixed price of Python + jsii start-up; the difference is what this repository costs.
Run with `make bench`. Figures only: nothing here is asserted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from config.exit_codes import SUCCESS
from config.paths import ROOT

RUNS = int(os.environ.get("BENCH_RUNS", "3"))

EMPTY_APP = "import aws_cdk as cdk; cdk.App().synth()"


def _time(command: list[str], extra_env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as outdir:
        env = {
            **os.environ,
            "CDK_OUTDIR": outdir,
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            **extra_env,
        }
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        return time.perf_counter() - started


Row = tuple[str, float, float, float]


def _measure(label: str, command: list[str], extra_env: dict[str, str]) -> Row:
    samples = [_time(command, extra_env) for _ in range(RUNS)]
    return label, statistics.median(samples), min(samples), max(samples)


def main() -> int:
    app = [sys.executable, str(ROOT / "app.py")]
    empty = [sys.executable, "-c", EMPTY_APP]
    rows = [
        _measure("empty CDK app", empty, {}),
        _measure("delivery system (full: cdk-nag + built-in validation)", app, {}),
        _measure(
            "delivery system, CDK_VALIDATION=false (cdk-nag only)",
            app,
            {"CDK_VALIDATION": "false"},
        ),
    ]
    baseline = rows[0][1]
    print(f"synth benchmark, {RUNS} runs each, {os.cpu_count()} CPUs, wall clock seconds")
    print(f"{'what':<58} {'median':>7} {'min':>7} {'max':>7} {'x empty':>8}")
    for label, median, low, high in rows:
        print(f"{label:<58} {median:7.2f} {low:7.2f} {high:7.2f} {median / baseline:8.1f}")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
