"""The post-deploy checks the pipeline runs pass against a real API and fail without one.

The contract checks sign a throwaway user in as the Verify step does (the checks role, the
pool, the checks' client; moto's Cognito here, whose tokens the API validates), and a run that
cannot sign one in fails under the Verify step's strict mode instead of skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from config.paths import ROOT
from tests.support.moto_cognito import (
    CREDENTIALS,
    Pool,
    api_trusting,
    create_pool,
    moto_server,
)

# In the account moto keeps the pool in (its default): the role is assumed there, as in AWS.
CHECKS_ROLE_ARN = "arn:aws:iam::123456789012:role/todo-dev-deployed-checks"


def _run_checks(site_url: str, markers: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """What `make post-deploy-checks` runs (the Verify action's first part, strict)."""
    return subprocess.run(
        [sys.executable, "-m", "ops.release.checks", "--markers", markers],
        cwd=ROOT,
        env={**_without_sign_in(os.environ), "SITE_URL": site_url, **environ},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _without_sign_in(environ: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in environ.items() if not key.startswith("CHECKS_")}


@pytest.fixture
def pool() -> Iterator[tuple[Pool, str]]:
    with moto_server() as endpoint:
        yield create_pool(endpoint), endpoint


@pytest.fixture
def api_url(pool: tuple[Pool, str], tmp_path: Path) -> Iterator[str]:
    with api_trusting(pool[0], tmp_path) as url:
        yield url


def test_smoke_and_contract_checks_pass_against_the_api(
    api_url: str, pool: tuple[Pool, str]
) -> None:
    cognito, endpoint = pool
    completed = _run_checks(
        api_url,
        "(smoke or contract) and not web",
        **CREDENTIALS,
        AWS_ENDPOINT_URL=endpoint,
        CHECKS_ROLE_ARN=CHECKS_ROLE_ARN,
        CHECKS_USER_POOL_ID=cognito.user_pool_id,
        CHECKS_CLIENT_ID=cognito.client_id,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "6 passed" in completed.stdout
    # The session's user is gone with the session.
    assert cognito.usernames() == []


def test_contract_checks_skip_without_a_way_to_sign_in(api_url: str) -> None:
    completed = _run_checks(api_url, "contract")
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "4 skipped" in completed.stdout and "passed" not in completed.stdout


def test_in_strict_mode_contract_checks_without_a_way_to_sign_in_fail(api_url: str) -> None:
    """The Verify step's run: a skip would pass the stage with nothing checked."""
    completed = _run_checks(api_url, "(smoke or contract) and not web", DEPLOYED_CHECKS_STRICT="1")
    assert completed.returncode == 1, completed.stdout[-3000:]
    assert "2 passed, 3 deselected, 4 errors" in completed.stdout
    assert "CHECKS_ROLE_ARN, CHECKS_USER_POOL_ID, CHECKS_CLIENT_ID not set" in completed.stdout


def test_smoke_checks_fail_when_the_site_is_down() -> None:
    completed = _run_checks("http://127.0.0.1:9", "smoke and not web")
    assert completed.returncode == 1
    assert "2 failed" in completed.stdout


def test_checks_skip_without_a_site() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/deployed",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
        ],
        cwd=ROOT,
        env={key: value for key, value in os.environ.items() if key != "SITE_URL"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout[-2000:]
    assert "skipped" in completed.stdout and "passed" not in completed.stdout


def test_the_checks_start_without_the_cdk_library() -> None:
    """Every Verify action starts this session; importing the CDK library (a jsii process and
    megabytes of modules) on the way to the deployed checks was most of its time."""
    probe = (
        "import sys, pytest\n"
        "pytest.main(['tests/deployed', '--collect-only', '-q', '-p', 'no:cacheprovider'])\n"
        "print('loaded:', sorted({m.split('.')[0] for m in sys.modules} & {'aws_cdk', 'jsii'}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "SITE_URL": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert "loaded: []" in completed.stdout, completed.stdout[-2000:] + completed.stderr[-2000:]
