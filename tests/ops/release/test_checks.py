"""The post-deploy checks command: bad input is an error, a failed check a failure."""

from __future__ import annotations

import pytest

from config.exit_codes import BAD_INPUT, FAILURE
from ops.release import checks
from ops.release.checks import run_checks


def test_checks_without_a_site_url_are_bad_input_not_a_silent_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_checks(site_url=" ", markers="smoke") == BAD_INPUT
    assert "SITE_URL is empty" in capsys.readouterr().err


def test_the_checks_command_refuses_a_missing_site_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make smoke` and the other check targets: no SITE_URL is an error, not a silent pass."""
    monkeypatch.delenv("SITE_URL", raising=False)
    assert checks.main(["--markers", "smoke"]) == BAD_INPUT
    assert "SITE_URL is empty" in capsys.readouterr().err


@pytest.mark.parametrize("markers", ["no_such_marker", "smoke and not smoke"])
def test_markers_that_select_no_check_are_bad_input(
    markers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_checks(site_url="http://127.0.0.1:9", markers=markers) == BAD_INPUT
    assert "select no post-deploy check" in capsys.readouterr().err


def test_a_failing_check_is_a_failure() -> None:
    # Nothing listens on port 9: the smoke checks fail (tests/pipeline/test_post_deploy_checks).
    assert run_checks(site_url="http://127.0.0.1:9", markers="smoke and not web") == FAILURE
