"""The post-deploy checks: the tests/deployed checks a marker expression selects, against SITE_URL.

    python -m ops.release.checks --markers "smoke or contract"
        (`make smoke`, `make contract`, `make integration`, `make post-deploy-checks`)

The pipeline runs them as the first part of its Verify action (ops/release/verify.py). An empty
SITE_URL, or markers that select no check, is BAD_INPUT: without it every check would skip and
pytest would exit 0, a silent pass. A failed check is FAILURE. The Verify action runs them
strict: a check that needs a signed-in user and has no way to sign one in fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping

from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.paths import ROOT

# pytest's own exit codes for markers that are wrong (unknown) or select no test: nothing was
# checked, which the environment file's `checks` decides.
PYTEST_USAGE_ERROR = 4
PYTEST_NO_TESTS_COLLECTED = 5


# tests/deployed/conftest.py: with it, a check that cannot sign its user in fails, not skips.
STRICT_VARIABLE = "DEPLOYED_CHECKS_STRICT"


def run_checks(
    *,
    site_url: str,
    markers: str,
    environ: Mapping[str, str] = os.environ,
    strict: bool = False,
) -> int:
    """The deployed checks ``markers`` selects against ``site_url`` (`make post-deploy-checks`).

    ``strict`` (the Verify step): a contract or integration check without the checks' sign-in
    variables (CHECKS_ROLE_ARN, CHECKS_USER_POOL_ID, CHECKS_CLIENT_ID) fails instead of
    skipping, since pytest counts an all-skipped run as a pass.
    """
    if not site_url.strip():
        # Without it every check skips and pytest exits 0: a silent pass.
        print(
            "error: SITE_URL is empty: the post-deploy checks need the deployed site's URL "
            "(the pipeline passes the stateless stack's SiteUrl output)",
            file=sys.stderr,
        )
        return BAD_INPUT
    command = [sys.executable, "-m", "pytest", "tests/deployed", "-p", "no:cacheprovider"]
    command += ["-n", "0", "-q", "-m", markers]
    completed = subprocess.run(  # noqa: S603 - a fixed argv of this interpreter
        command,
        cwd=ROOT,
        env={**environ, "SITE_URL": site_url, **({STRICT_VARIABLE: "1"} if strict else {})},
        check=False,
    )
    if completed.returncode in (PYTEST_USAGE_ERROR, PYTEST_NO_TESTS_COLLECTED):
        print(f"error: the markers {markers!r} select no post-deploy check", file=sys.stderr)
        return BAD_INPUT
    return SUCCESS if completed.returncode == 0 else FAILURE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The post-deploy checks against SITE_URL")
    parser.add_argument("--markers", required=True, help="pytest -m expression of the checks")
    args = parser.parse_args(argv)
    return run_checks(site_url=os.environ.get("SITE_URL", ""), markers=args.markers)


if __name__ == "__main__":
    raise SystemExit(main())
