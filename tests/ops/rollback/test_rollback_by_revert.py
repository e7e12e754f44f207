"""Rollback is `git revert`: the revert synthesizes exactly what ran before, byte for byte."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from config.paths import ROOT
from infra.images import service_images
from tests.support.assembly import Assembly, synthesize_or_fail
from tests.support.source_artifact import WEB_DIST, export_source, files

# It builds its repository from the checkout's files: it must pass on the Source artifact too.
pytestmark = pytest.mark.checkout

IDENTITY = ["-c", "user.name=ci", "-c", "user.email=ci@example.com", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *IDENTITY, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return completed.stdout


def _committed_artifact(destination: Path) -> Path:
    """What the Source action hands the Build step for this checkout, committed as commit A."""
    repo = export_source(ROOT, destination)
    # The web build is ignored by git but synthesized into the stateless stack: bring it along.
    shutil.copytree(ROOT / WEB_DIST, repo / WEB_DIST)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "A")
    return repo


def _api_tag(repo: Path) -> str:
    images = service_images(
        project="todo",
        account="111111111111",
        region="eu-west-1",
        services_dir=repo / "services",
        names=["api"],
    )
    return images["api"].tag


def test_reverting_a_service_and_infra_change_synthesizes_byte_identical_output(
    tmp_path: Path, assembly: Assembly
) -> None:
    # A is this checkout, whose synthesis the session already holds.
    repo = _committed_artifact(tmp_path / "repo")
    config_file = repo / "config/environments.toml"
    before = files(assembly.root)
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
    after = files(synthesize_or_fail(tmp_path / "reverted.out", root=repo))

    assert _api_tag(repo) == tag_a
    assert sorted(after) == sorted(before)
    assert [name for name in before if before[name] != after[name]] == []
