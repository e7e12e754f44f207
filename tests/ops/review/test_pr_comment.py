"""make pr-comment: the diff lands once on the pull request and in the job summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.review.pr_comment import MARKER, main
from tests.support.github_server import GitHubState

REPORT = "## Template diff\n\n### dev: 1 changed\n- stack `todo-dev-stateful` changed\n"


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.md"
    path.write_text(REPORT)
    return path


def test_the_report_is_commented_once_and_edited_on_the_next_push(
    github_env: GitHubState, report: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("PR_NUMBER", "12")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("HEAD_SHA", "0123456789abcdef0123456789abcdef01234567")
    assert main(["--report", str(report)]) == 0

    report.write_text(REPORT.replace("1 changed", "2 changed"))
    monkeypatch.setenv("HEAD_SHA", "fedcba9876543210fedcba9876543210fedcba98")
    assert main(["--report", str(report)]) == 0

    (comment,) = github_env.comments_on(12)
    assert comment["body"].startswith(MARKER)
    assert "`fedcba9`" in comment["body"] and "2 changed" in comment["body"]
    assert "1 changed" not in comment["body"]
    assert summary.read_text() == "earlier step\n" + REPORT + REPORT.replace("1 c", "2 c")


def test_missing_variables_are_named_in_one_line_and_nothing_is_posted(
    github_env: GitHubState,
    report: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("PR_NUMBER", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN")
    assert main(["--report", str(report)]) == 2
    assert capsys.readouterr().err == (
        "pr-comment: missing environment variable(s): PR_NUMBER, GITHUB_TOKEN\n"
    )
    assert github_env.requests == []


def test_a_missing_report_or_bad_number_is_an_input_error(
    github_env: GitHubState,
    report: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PR_NUMBER", "twelve")
    assert main(["--report", str(report)]) == 2
    assert "PR_NUMBER must be a number, got 'twelve'" in capsys.readouterr().err
    monkeypatch.setenv("PR_NUMBER", "12")
    assert main(["--report", str(report.parent / "absent.md")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert github_env.requests == []


def test_an_api_failure_is_one_line_and_exit_1(
    github_env: GitHubState,
    report: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PR_NUMBER", "12")
    github_env.failures[("GET", r".*/issues/12/comments")] = (403, "Resource not accessible")
    assert main(["--report", str(report)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 403" in err and "Traceback" not in err
