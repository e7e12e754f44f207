"""make rollback-pr: the prepared branch is pushed and its pull request opened; no token leaks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ops.github_api import GitHubClient
from ops.rollback.pr import RollbackPrError, main, open_pull_request, push_branch, push_url
from tests.support.github_server import GitHubState

# It runs git: it also runs where the Build step does, on the Source artifact, with git as
# CodeBuild has it (no .git around, no global identity).
pytestmark = pytest.mark.checkout

SECRET = "ghs_s3cr3t/token"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def prepared(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A repository with branch rollback/abc1234, its prepared files, and a bare 'GitHub'."""
    repo, remote, out = tmp_path / "repo", tmp_path / "remote.git", tmp_path / "out"
    repo.mkdir()
    out.mkdir()
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.name", "ci")
    git(repo, "config", "user.email", "ci@example.com")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "A")
    git(repo, "branch", "rollback/abc1234")
    (out / "rollback.json").write_text(
        json.dumps(
            {"branch": "rollback/abc1234", "base_branch": "main", "title": 'Rollback: revert "x"'}
        )
    )
    (out / "pr-body.md").write_text("Rolls back `abc1234`.\n")
    return repo, remote, out


def test_the_branch_is_pushed_and_the_pull_request_opened(
    prepared: tuple[Path, Path, Path], github: GitHubState, client: GitHubClient
) -> None:
    repo, remote, out = prepared
    url = open_pull_request(repo, remote=str(remote), client=client, out_dir=out, secret="t")
    assert git(remote, "rev-parse", "rollback/abc1234") == git(repo, "rev-parse", "HEAD")
    (pull,) = github.pulls
    assert (pull["head"], pull["base"], pull["title"], pull["body"]) == (
        "rollback/abc1234",
        "main",
        'Rollback: revert "x"',
        "Rolls back `abc1234`.\n",
    )
    assert url == pull["html_url"]


def test_a_failed_push_never_shows_the_token(
    prepared: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    repo, _, _ = prepared
    remote = str(tmp_path / f"missing-{SECRET.replace('/', '-')}" / "repo.git")
    with pytest.raises(RollbackPrError) as raised:
        push_branch(repo, remote, "rollback/abc1234", secret=SECRET.replace("/", "-"))
    assert "git push of rollback/abc1234 failed" in str(raised.value)
    assert SECRET.replace("/", "-") not in str(raised.value) and "***" in str(raised.value)


def test_the_push_url_carries_the_token_for_the_configured_server() -> None:
    assert push_url("https://github.example.com/", "o/r", SECRET) == (
        "https://x-access-token:ghs_s3cr3t%2Ftoken@github.example.com/o/r.git"
    )
    with pytest.raises(RollbackPrError, match="must be an https URL"):
        push_url("http://github.com", "o/r", SECRET)


def test_without_a_prepared_rollback_nothing_is_pushed(
    github: GitHubState, client: GitHubClient, tmp_path: Path
) -> None:
    with pytest.raises(RollbackPrError, match="run make rollback") as raised:
        open_pull_request(tmp_path, remote="unused", client=client, out_dir=tmp_path, secret="t")
    assert raised.value.exit_code == 2
    assert github.requests == []


def test_a_workflow_without_its_token_is_an_input_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    assert main([]) == 2
    assert capsys.readouterr().err == "rollback-pr: missing environment variable(s): GITHUB_TOKEN\n"
