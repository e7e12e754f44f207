"""make drift-issue against a local GitHub: opened on drift, updated, closed when clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.drift.detect import ResourceDrift, StackDrift, StackTarget, to_json
from ops.drift.issue import main
from tests.support.github_server import GitHubState

DATA = StackTarget(
    environment="prod", account="444444444444", region="eu-west-1", stack="todo-prod-stateful"
)
NETWORK = StackTarget(
    environment="prod", account="444444444444", region="eu-west-1", stack="todo-prod-stateless"
)
QUEUE = ResourceDrift(
    logical_id="Queue", resource_type="AWS::SQS::Queue", status="MODIFIED", properties=("/Delay",)
)


def _write(path: Path, results: list[StackDrift], when: str) -> Path:
    path.write_text(to_json(results, when))
    return path


def _drift_issues(github: GitHubState) -> list[dict[str, object]]:
    return [i for i in github.issues.values() if {"name": "drift"} in i["labels"]]


def test_drift_opens_the_issue_updates_it_then_a_clean_check_closes_it(
    github_env: GitHubState, tmp_path: Path
) -> None:
    report = tmp_path / "drift.json"
    drifted = StackDrift(target=DATA, status="DRIFTED", resources=(QUEUE,))
    clean = StackDrift(target=NETWORK, status="IN_SYNC")

    assert main(["--report", str(_write(report, [drifted, clean], "day 1"))]) == 0
    (issue,) = _drift_issues(github_env)
    assert issue["title"] == "Drift detected in 1 stack" and issue["state"] == "open"
    assert "| `Queue` | AWS::SQS::Queue | MODIFIED | /Delay |" in str(issue["body"])

    network_drift = StackDrift(target=NETWORK, status="DRIFTED", resources=(QUEUE,))
    assert main(["--report", str(_write(report, [drifted, network_drift], "day 2"))]) == 0
    (issue,) = _drift_issues(github_env)
    assert issue["title"] == "Drift detected in 2 stacks"
    assert "Checked day 2" in str(issue["body"])

    assert main(["--report", str(_write(report, [clean], "day 3"))]) == 0
    (issue,) = _drift_issues(github_env)
    assert issue["state"] == "closed"
    number = int(str(issue["number"]))
    assert [c["body"] for c in github_env.comments_on(number)] == ["No drift detected on day 3."]


def test_a_clean_check_with_no_issue_open_changes_nothing(
    github_env: GitHubState, tmp_path: Path
) -> None:
    report = _write(tmp_path / "drift.json", [StackDrift(target=NETWORK, status="IN_SYNC")], "d")
    assert main(["--report", str(report)]) == 0
    assert github_env.issues == {} and github_env.comments == {}


def test_a_file_that_is_not_a_drift_report_is_an_input_error(
    github_env: GitHubState, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "drift.json"
    report.write_text(json.dumps({"something": "else"}))
    assert main(["--report", str(report)]) == 2
    assert "is not a drift report" in capsys.readouterr().err
    assert github_env.requests == []


def test_missing_token_is_named(
    github_env: GitHubState,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    report = _write(tmp_path / "drift.json", [], "d")
    assert main(["--report", str(report)]) == 2
    assert capsys.readouterr().err == "drift-issue: missing environment variable(s): GITHUB_TOKEN\n"
    assert github_env.requests == []


def test_the_exit_code_follows_the_kind_of_error_not_its_wording(
    github_env: GitHubState, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An API failure whose text happens to say "missing environment" is still a failed call.
    github_env.failures[("GET", r".*/issues")] = (403, "missing environment protection rule")
    report = _write(tmp_path / "drift.json", [], "d")
    assert main(["--report", str(report)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "HTTP 403" in line and "missing environment protection rule" in line
