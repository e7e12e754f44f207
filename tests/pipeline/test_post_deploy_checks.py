"""The post-deploy checks the pipeline runs pass against a real API and fail without one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.paths import ROOT
from tests.support.api_process import ApiProcess, api_env


def _run_checks(site_url: str, markers: str) -> subprocess.CompletedProcess[str]:
    """What `make post-deploy-checks` and the Verify action's first part run."""
    return subprocess.run(
        [sys.executable, "-m", "ops.release.checks", "--markers", markers],
        cwd=ROOT,
        env={**os.environ, "SITE_URL": site_url},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def api_url(tmp_path: Path) -> Iterator[str]:
    api = ApiProcess(api_env(tmp_path))
    url = str(api.wait_for("Todo API listening on")["url"])
    api.wait_for("Application startup complete")
    yield url
    api.proc.terminate()
    api.proc.wait(timeout=30)


def test_smoke_and_contract_checks_pass_against_the_api(api_url: str) -> None:
    completed = _run_checks(api_url, "(smoke or contract) and not web")
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "6 passed" in completed.stdout


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
