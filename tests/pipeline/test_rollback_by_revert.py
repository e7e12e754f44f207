"""Rollback is `git revert`: the revert synthesizes exactly what ran before, byte for byte."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pipeline.images import service_images
from tests.support.assembly import ROOT, synthesize_or_fail

IDENTITY = ["-c", "user.name=ci", "-c", "user.email=ci@example.com", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return completed.stdout


def _tracked_copy(destination: Path) -> Path:
    """This checkout's files (tracked, or new and not ignored) as a fresh git repository."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    # The web build is ignored by git but synthesized into the frontend stack: bring it along.
    shutil.copytree(ROOT / "services/web/dist", destination / "services/web/dist")
    git(destination, "init", "--quiet", "--initial-branch=main")
    git(destination, "add", "--all")
    git(destination, "commit", "--quiet", "-m", "A")
    return destination


def _files(assembly: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(assembly)): path.read_bytes()
        for path in sorted(assembly.rglob("*"))
        if path.is_file()
    }


def _api_tag(repo: Path) -> str:
    images = service_images(
        project="todo", account="111111111111", region="eu-west-1", services_dir=repo / "services"
    )
    return images["api"].tag


def test_reverting_a_service_and_infra_change_synthesizes_byte_identical_output(
    tmp_path: Path,
) -> None:
    repo = _tracked_copy(tmp_path / "repo")
    config_file = repo / "pipeline/environments.toml"
    before = _files(synthesize_or_fail(tmp_path / "a.out", config_file=config_file, root=repo))
    tag_a = _api_tag(repo)

    # B: a change to a service (a new image) and to infra (dev keeps flow logs longer).
    service_file = repo / "services/api/todo_api/__init__.py"
    service_file.write_text(service_file.read_text() + "\n# change B\n")
    config_file.write_text(
        config_file.read_text().replace(
            "flow_log_retention_days = 30", "flow_log_retention_days = 60", 1
        )
    )
    git(repo, "commit", "--quiet", "--all", "-m", "B")
    assert _api_tag(repo) != tag_a, "B must change the image the environments run"

    git(repo, "revert", "--no-edit", "HEAD")
    assert git(repo, "diff", "HEAD~2", "--stat") == ""
    after = _files(
        synthesize_or_fail(tmp_path / "reverted.out", config_file=config_file, root=repo)
    )

    assert _api_tag(repo) == tag_a
    assert sorted(after) == sorted(before)
    assert [name for name in before if before[name] != after[name]] == []
