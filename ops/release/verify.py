"""Verify a fresh deployment: the post-deploy checks, the bake, then the release record.

    python -m ops.release.verify --environment staging --markers "smoke or contract" \\
        --minutes 10 [--role-arn <lookup role>]        (`make verify`, the Verify-<env> action)

One pipeline action instead of three, so the next environment waits for one CodeBuild
provisioning, not three. The parts run in this order and the first that fails stops the rest:

1. checks: the tests/deployed checks ``--markers`` selects, against SITE_URL (the stateless
   stack's output). An empty SITE_URL is an error, never a run in which every check skips;
   so is a check that needs a signed-in user without the checks' sign-in variables.
2. bake: ``ops.release.bake`` for ``--minutes``; a firing health alarm fails it.
3. record: ``ops.release.record record``, written only after the checks and the bake passed,
   so a release record always names a release that was checked and baked.

Each part's outcome and seconds are printed; the exit code is the failing part's own
(config/exit_codes.py): FAILURE for a failed check, a firing alarm or a refused AWS call,
BAD_INPUT for a missing SITE_URL or markers that select no check, NO_HEALTH_ALARMS when the
bake finds nothing to watch.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from config.exit_codes import FAILURE, SUCCESS
from ops.common import load_config_or_exit
from ops.release import bake, record
from ops.release.checks import run_checks


@dataclass(frozen=True, kw_only=True)
class Part:
    name: str
    run: Callable[[], int]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    name: str
    code: int | None  # None: not run, an earlier part failed
    seconds: float

    def describe(self) -> str:
        if self.code is None:
            return f"{self.name:<7} skipped (an earlier part failed)"
        state = "passed" if self.code == SUCCESS else f"FAILED (exit {self.code})"
        return f"{self.name:<7} {state} in {self.seconds:.1f} s"


def _exit_code(run: Callable[[], int]) -> int:
    """A part's code, also when it ends with SystemExit (argparse, a bad config)."""
    try:
        return run()
    except SystemExit as stop:
        code = stop.code
        if code is None:
            return SUCCESS
        return code if isinstance(code, int) else FAILURE


def verify(
    parts: Sequence[Part],
    *,
    clock: Callable[[], float] = time.monotonic,
    report: Callable[[str], None] = print,
) -> tuple[int, list[Outcome]]:
    """Run ``parts`` in order until one fails; its code (or SUCCESS) and every outcome."""
    outcomes: list[Outcome] = []
    failed = SUCCESS
    for part in parts:
        if failed != SUCCESS:
            outcome = Outcome(name=part.name, code=None, seconds=0.0)
        else:
            start = clock()
            code = _exit_code(part.run)
            outcome = Outcome(name=part.name, code=code, seconds=clock() - start)
            failed = code
        outcomes.append(outcome)
        report(f"verify: {outcome.describe()}")
    return failed, outcomes


def parts(args: argparse.Namespace, *, site_url: str) -> list[Part]:
    """Checks, bake, record: each the command a person can run on its own."""
    bake_argv = ["--environment", args.environment, "--minutes", str(args.minutes)]
    if args.role_arn:
        bake_argv += ["--role-arn", args.role_arn]
    return [
        Part(
            name="checks",
            run=lambda: run_checks(site_url=site_url, markers=args.markers, strict=True),
        ),
        Part(name="bake", run=lambda: bake.main(bake_argv)),
        Part(name="record", run=lambda: record.main(["record", "--environment", args.environment])),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Checks, bake, then the release record")
    parser.add_argument("--environment", required=True)
    parser.add_argument("--markers", required=True, help="pytest -m expression of the checks")
    parser.add_argument("--minutes", type=float, required=True, help="how long to bake")
    parser.add_argument("--role-arn", help="role that reads the environment's alarms")
    args = parser.parse_args(argv)
    load_config_or_exit(environment=args.environment)

    print(f"verify {args.environment}: checks, bake {args.minutes:g} min, record", flush=True)
    code, outcomes = verify(
        parts(args, site_url=os.environ.get("SITE_URL", "")),
        report=lambda line: print(line, flush=True),
    )
    total = sum(outcome.seconds for outcome in outcomes)
    verdict = "verified" if code == SUCCESS else f"NOT verified (exit {code})"
    print(f"verify {args.environment}: {verdict} in {total:.1f} s")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
