"""make rollback's local part in a real temporary git repository (synth replaced by a stub)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ops.review.ref_diff import RefDiffError
from ops.rollback.revert import run

# It runs git: it also runs where the Build step does, on the Source artifact, with git as
# CodeBuild has it (no .git around, no global identity).
pytestmark = pytest.mark.checkout

SYNTH_REPORT = "## Template diff\n\n### dev: 1 changed\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(repo: Path, message: str, **files: str) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: A -> B -> merge of feature (F) -> D; and an unmerged branch 'experiment' (X)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    for key, value in (("user.name", "ci"), ("user.email", "ci@example.com")):
        git(repo, "config", key, value)
    git(repo, "config", "commit.gpgsign", "false")
    commit(repo, "A", **{"app.txt": "v1\n", "infra.txt": "small\n"})
    commit(repo, "B: bigger infra", **{"infra.txt": "big\n"})
    git(repo, "switch", "--quiet", "-c", "feature")
    commit(repo, "F: feature", **{"feature.txt": "on\n"})
    git(repo, "switch", "--quiet", "main")
    git(repo, "merge", "--quiet", "--no-ff", "-m", "Merge pull request #1 from feature", "feature")
    commit(repo, "D: app v2", **{"app.txt": "v2\n"})
    git(repo, "switch", "--quiet", "-c", "experiment")
    commit(repo, "X: not shipped", **{"x.txt": "x\n"})
    git(repo, "switch", "--quiet", "main")
    return repo


class DiffRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.repos: set[Path] = set()

    def __call__(self, repo: Path, base: str, head: str) -> str:
        self.repos.add(repo)
        self.calls.append((base, head))
        return SYNTH_REPORT


def _sha(repo: Path, subject: str) -> str:
    return git(repo, "log", "--all", "--format=%H", f"--grep=^{subject}")


def _rollback(repo: Path, sha: str, out: Path, diff: DiffRecorder | None = None) -> int:
    return run(repo, sha, main_branch="main", diff=diff or DiffRecorder(), out_dir=out)


def _branches(repo: Path) -> set[str]:
    return set(git(repo, "branch", "--format=%(refname:short)").split())


def test_an_explicit_commit_is_reverted_on_its_own_branch(repo: Path, tmp_path: Path) -> None:
    b = _sha(repo, "B: bigger infra")
    head_before = git(repo, "rev-parse", "HEAD")
    diff = DiffRecorder()
    assert _rollback(repo, b[:10], tmp_path / "out", diff) == 0

    branch = f"rollback/{b[:7]}"
    assert branch in _branches(repo)
    assert git(repo, "show", f"{branch}:infra.txt") == "small"
    assert git(repo, "show", f"{branch}:app.txt") == "v2"  # later work stays
    assert git(repo, "rev-parse", f"{branch}~1") == git(repo, "rev-parse", "main")
    assert git(repo, "log", "-1", "--format=%s", branch) == 'Revert "B: bigger infra"'
    # The caller's checkout is untouched and no worktree is left behind.
    assert git(repo, "rev-parse", "HEAD") == head_before
    assert git(repo, "branch", "--show-current") == "main"
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert diff.calls == [("main", branch)] and diff.repos == {repo}

    body = (tmp_path / "out/pr-body.md").read_text()
    assert b in body and "B: bigger infra" in body and "ci <ci@example.com>" in body
    assert SYNTH_REPORT.strip() in body
    prepared = json.loads((tmp_path / "out/rollback.json").read_text())
    assert (prepared["branch"], prepared["base_branch"]) == (branch, "main")


def test_the_default_is_the_last_merge_reverted_against_its_first_parent(
    repo: Path, tmp_path: Path
) -> None:
    merge = _sha(repo, "Merge pull request #1")
    assert _rollback(repo, "", tmp_path / "out") == 0
    branch = f"rollback/{merge[:7]}"
    files = set(git(repo, "ls-tree", "--name-only", branch).split())
    assert "feature.txt" not in files
    assert git(repo, "show", f"{branch}:app.txt") == "v2"
    assert "merge commit" in (tmp_path / "out/pr-body.md").read_text()


def test_without_merges_the_default_is_the_newest_commit_of_main(tmp_path: Path) -> None:
    repo = tmp_path / "squashed"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.name", "ci")
    git(repo, "config", "user.email", "ci@example.com")
    commit(repo, "A", **{"app.txt": "v1\n"})
    newest = commit(repo, "Squashed PR (#2)", **{"app.txt": "v2\n"})
    assert _rollback(repo, "", tmp_path / "out") == 0
    assert git(repo, "show", f"rollback/{newest[:7]}:app.txt") == "v1"


def test_origin_main_is_preferred_when_the_clone_has_it(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(repo), str(clone))
    for key, value in (("user.name", "ci"), ("user.email", "ci@example.com")):
        git(clone, "config", key, value)
    git(clone, "reset", "--quiet", "--hard", "HEAD~1")  # local main behind origin/main
    d = _sha(repo, "D: app v2")
    diff = DiffRecorder()
    assert _rollback(clone, d, tmp_path / "out", diff) == 0
    assert diff.calls == [("origin/main", f"rollback/{d[:7]}")]


@pytest.mark.parametrize(
    ("commit_arg", "message"),
    [
        ("HEAD~1", "must be a commit SHA of 7 to 40 hex digits, got 'HEAD~1'"),
        ("abc12", "must be a commit SHA of 7 to 40 hex digits"),
        ("0" * 40, f"commit {'0' * 40} not found in this clone"),
    ],
)
def test_bad_input_is_refused_with_exit_2(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    commit_arg: str,
    message: str,
) -> None:
    assert _rollback(repo, commit_arg, tmp_path / "out") == 2
    assert message in capsys.readouterr().err
    assert _branches(repo) == {"main", "feature", "experiment"}


def test_a_commit_that_main_never_had_is_refused_and_nothing_is_created(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = _sha(repo, "X: not shipped")
    diff = DiffRecorder()
    assert _rollback(repo, x, tmp_path / "out", diff) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not on main's history" in err
    assert _branches(repo) == {"main", "feature", "experiment"}
    assert diff.calls == [] and not (tmp_path / "out").exists()


def test_a_conflicting_revert_is_aborted_and_leaves_nothing_behind(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # C rewrites the line B introduced: reverting B now conflicts in infra.txt.
    commit(repo, "C: huge infra", **{"infra.txt": "huge\n"})
    head_before = git(repo, "rev-parse", "HEAD")
    b = _sha(repo, "B: bigger infra")
    assert _rollback(repo, b, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "conflicts" in err and "infra.txt" in err and "Traceback" not in err
    assert _branches(repo) == {"main", "feature", "experiment"}
    assert git(repo, "rev-parse", "HEAD") == head_before
    assert git(repo, "status", "--porcelain") == ""
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_second_rollback_of_the_same_commit_says_the_branch_exists(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b = _sha(repo, "B: bigger infra")
    assert _rollback(repo, b, tmp_path / "out") == 0
    assert _rollback(repo, b, tmp_path / "out") == 2
    assert f"branch rollback/{b[:7]} already exists" in capsys.readouterr().err


def test_a_failed_synth_removes_the_branch_again(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(_repo: Path, _base: str, head: str) -> str:
        raise RefDiffError(f"synth of {head} failed (exit 1): boom")

    b = _sha(repo, "B: bigger infra")
    assert run(repo, b, main_branch="main", diff=failing, out_dir=tmp_path / "out") == 1
    assert "boom" in capsys.readouterr().err
    assert _branches(repo) == {"main", "feature", "experiment"}
    assert not (tmp_path / "out").exists()
