#!/usr/bin/env python3
"""Synth cost: the whole delivery system against an empty CDK app, in the same run.

Prints wall-clock medians (and min/max) over BENCH_RUNS interleaved rounds (each runs every
command once, so the machine's drift hits them alike), and each command's ratio to the empty
app within a round, as the median over rounds. The empty app measures the fixed price of
Python + jsii start-up; the difference is what this repository costs. Both run as `make synth`
runs the app: cdk.json's and the CLI's context in CDK_CONTEXT_JSON (ops.checkout.cli_context),
and the Makefile's bytecode cache (PYTHONPYCACHEPREFIX; a temporary one outside make). A first
run of each, left out of the rounds, fills that cache as the Build step's tests do before its
synth; it gets its own row, against the empty app's first run. One more run of the app, in
process, splits its time into phases and counts its jsii calls by kind. Run with `make bench`.
Figures only: nothing here is asserted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from config.exit_codes import SUCCESS
from config.paths import ROOT
from ops.checkout import cli_context

RUNS = int(os.environ.get("BENCH_RUNS", "5"))

EMPTY_APP = "import aws_cdk as cdk; cdk.App().synth()"
NO_VALIDATION = {"CDK_VALIDATION": "false"}
# The kernel calls a Python program makes into the jsii runtime (each one a round trip to node).
JSII_CALLS = ("create", "invoke", "sinvoke", "get", "sget", "set", "sset")


def _environment(outdir: str, pycache: str, extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return {
        **env,
        "CDK_OUTDIR": outdir,
        "CDK_CONTEXT_JSON": json.dumps(cli_context(ROOT)),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "PYTHONPYCACHEPREFIX": pycache,
        **extra,
    }


def _time(command: list[str], pycache: str, extra: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as outdir:
        env = _environment(outdir, pycache, extra)
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        return time.perf_counter() - started


Row = tuple[str, float, float, float, float]  # label, median, min, max, paired ratio
Command = tuple[str, list[str], dict[str, str]]


def _measure(commands: list[Command], pycache: str) -> tuple[list[float], list[Row]]:
    """A first run of each command (it compiles into a cold bytecode cache), then RUNS rounds
    that run every command once, interleaved, so a slow patch of the machine hits all of them
    alike. Each row's ratio is the median, over rounds, of its time ÷ the first command's time
    in the same round: what this machine's drift moves least."""
    firsts = [_time(command, pycache, extra) for _, command, extra in commands]
    rounds = [
        [_time(command, pycache, extra) for _, command, extra in commands] for _ in range(RUNS)
    ]
    rows = []
    for index, (label, _, _) in enumerate(commands):
        samples = [round_[index] for round_ in rounds]
        ratios = [round_[index] / round_[0] for round_ in rounds]
        rows.append(
            (
                label,
                statistics.median(samples),
                min(samples),
                max(samples),
                statistics.median(ratios),
            )
        )
    return firsts, rows


def _count_jsii_calls(counts: Counter[str]) -> None:
    """Count every kernel call from here on (aws_cdk's modules call them through ``jsii.*``)."""
    import jsii  # noqa: PLC0415 - only the breakdown needs the runtime patched

    def counted(kind: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[kind] += 1
            return call(*args, **kwargs)

        return wrapper

    for kind in JSII_CALLS:
        setattr(jsii, kind, counted(kind, getattr(jsii, kind)))


def phases() -> dict[str, Any]:
    """One synth in this process, as app.py runs it, split into phases (seconds)."""
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    _count_jsii_calls(counts)
    from config.model import config_file, load_config  # noqa: PLC0415
    from infra.images import pipeline_images  # noqa: PLC0415
    from pipeline.buildspec import load_buildspecs  # noqa: PLC0415
    from pipeline.cdk_app import build_app  # noqa: PLC0415

    imported = time.perf_counter()
    config = load_config(config_file())
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    images = pipeline_images(config)
    read = time.perf_counter()
    app = build_app(
        config=config,
        cli_version=str(package["devDependencies"]["aws-cdk"]),
        buildspecs=load_buildspecs(),
        images=images,
        web_dist=ROOT / "services" / "web" / "dist",
    )
    built = time.perf_counter()
    app.synth()
    done = time.perf_counter()
    return {
        "seconds": {
            "import the CDK and this repository (jsii starts)": imported - started,
            "read the config, fingerprint the images": read - imported,
            "build_app: construct the app": built - read,
            "app.synth: nag, templates, assets, write": done - built,
        },
        "jsii_calls": dict(counts),
    }


def _phases(pycache: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as outdir:
        completed = subprocess.run(
            [sys.executable, "-m", "bench.synth", "--phases"],
            cwd=ROOT,
            env=_environment(outdir, pycache, {}),
            check=True,
            capture_output=True,
            text=True,
        )
    result: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return result


def _report(firsts: list[float], rows: list[Row], breakdown: dict[str, Any]) -> None:
    baseline = rows[0][1]
    print(
        f"synth benchmark, {RUNS} interleaved rounds, {os.cpu_count()} CPUs, wall clock seconds "
        "(x empty: median over rounds of the ratio within a round)"
    )
    print(f"{'what':<58} {'median':>7} {'min':>7} {'max':>7} {'x empty':>8}")
    for label, median, low, high, ratio in rows:
        print(f"{label:<58} {median:7.2f} {low:7.2f} {high:7.2f} {ratio:8.2f}")
    for (label, *_), first in zip(rows, firsts, strict=True):
        # Against the empty app's own first run: both compiled what they import, if cold.
        print(f"{label + ', first run':<58} {first:7.2f} {'':>15} {first / firsts[0]:8.2f}")
    print("one in-process synth of the delivery system, by phase")
    for phase, seconds in breakdown["seconds"].items():
        print(f"  {phase:<56} {seconds:7.2f} {'':>15} {seconds / baseline:8.2f}")
    calls = breakdown["jsii_calls"]
    shown = ", ".join(f"{kind} {calls[kind]}" for kind in JSII_CALLS if kind in calls)
    print(f"  jsii calls: {sum(calls.values())} ({shown})")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--phases"]:
        print(json.dumps(phases()))
        return SUCCESS
    app = [sys.executable, str(ROOT / "app.py")]
    empty = [sys.executable, "-c", EMPTY_APP]
    with tempfile.TemporaryDirectory() as scratch:
        pycache = os.environ.get("PYTHONPYCACHEPREFIX") or scratch
        firsts, rows = _measure(
            [
                ("empty CDK app", empty, {}),
                ("delivery system (as make synth runs it)", app, {}),
                # For reference: the empty app pays for building CDK's built-in CloudFormation
                # validation engine, which the delivery system turns off (cfn-lint is the gate's).
                ("empty CDK app, CDK_VALIDATION=false", empty, NO_VALIDATION),
            ],
            pycache,
        )
        breakdown = _phases(pycache)
    _report(firsts, rows, breakdown)
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
