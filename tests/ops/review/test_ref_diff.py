"""The one diff code path of make diff and make rollback, on a tiny app in a real git repo.

The app writes a minimal cloud assembly whose one resource comes from a file, so exporting a
ref, synthesizing each side with its own cdk.json context and comparing run for real, fast.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from config.exit_codes import BAD_INPUT
from ops.review import cdk_diff
from ops.review.ref_diff import RefDiffError, diff_refs, export_ref, publish

# It runs git: it also runs where the Build step does, on the Source artifact, with git as
# CodeBuild has it (no .git around, no global identity).
pytestmark = pytest.mark.checkout

APP = """\
import json, os, pathlib, sys
context = json.loads(os.environ["CDK_CONTEXT_JSON"])
if not context.get("@aws-cdk/flag"):
    sys.exit("no cdk.json context")
size = pathlib.Path("size.txt").read_text().strip()
if size == "broken":
    sys.exit("error: size.txt is broken")
out = pathlib.Path(os.environ["CDK_OUTDIR"])
out.mkdir(parents=True)
template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue",
                                   "Properties": {"DelaySeconds": int(size)}}}}
(out / "todo-pipeline.template.json").write_text(json.dumps(template))
(out / "manifest.json").write_text(json.dumps({"artifacts": {"todo-pipeline": {
    "type": "aws:cloudformation:stack", "environment": "aws://111111111111/eu-west-1",
    "properties": {"templateFile": "todo-pipeline.template.json"}}}}))
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.name", "ci")
    git(repo, "config", "user.email", "ci@example.com")
    (repo / "app.py").write_text(APP)
    (repo / "cdk.json").write_text('{"context": {"@aws-cdk/flag": true}}')
    (repo / "size.txt").write_text("1\n")
    (repo / ".gitignore").write_text("services/web/dist/\n")
    (repo / "services/web/dist").mkdir(parents=True)
    (repo / "services/web/dist/index.html").write_text("<html></html>")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "base")
    return repo


def test_the_working_tree_against_a_ref(repo: Path, tmp_path: Path) -> None:
    (repo / "size.txt").write_text("5\n")  # not committed: the head is the tree as it is
    report = diff_refs(repo, base="main", head=None, workdir=tmp_path / "work")
    assert "### pipeline: 1 changed" in report
    assert "changed `Queue` (AWS::SQS::Queue) — DelaySeconds" in report


def test_two_refs_and_the_web_build_travels_with_each_export(repo: Path, tmp_path: Path) -> None:
    git(repo, "switch", "--quiet", "-c", "change")
    (repo / "size.txt").write_text("7\n")
    git(repo, "commit", "--quiet", "--all", "-m", "change")
    git(repo, "switch", "--quiet", "main")
    report = diff_refs(repo, base="main", head="change", workdir=tmp_path / "work")
    assert "changed `Queue`" in report
    assert (tmp_path / "work/head/services/web/dist/index.html").is_file()
    assert (tmp_path / "work/head/size.txt").read_text() == "7\n"


def test_an_unfetched_base_says_what_to_fetch(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(
        RefDiffError, match=r"'origin/main' is not in this clone.*git fetch"
    ) as raised:
        export_ref(repo, "origin/main", tmp_path / "base")
    assert raised.value.exit_code == 2
    assert not (tmp_path / "base").exists()


def test_a_failing_synth_names_the_side_and_its_last_line(repo: Path, tmp_path: Path) -> None:
    (repo / "size.txt").write_text("broken\n")
    with pytest.raises(RefDiffError, match=r"synth of .*repo failed \(exit 1\): .*is broken"):
        diff_refs(repo, base="main", head=None, workdir=tmp_path / "work")


def test_without_the_diff_engine_the_diff_stops_with_its_one_line(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine's script where no node_modules resolve its package.
    (tmp_path / "engine").mkdir()
    script = Path(shutil.copy(cdk_diff.SCRIPT, tmp_path / "engine/cdk_diff.mjs"))
    monkeypatch.setattr(cdk_diff, "SCRIPT", script)
    monkeypatch.delenv("NODE_PATH", raising=False)
    (repo / "size.txt").write_text("5\n")
    with pytest.raises(
        RefDiffError, match=r"cloudformation-diff is not installed: run npm ci$"
    ) as raised:
        diff_refs(repo, base="main", head=None, workdir=tmp_path / "work")
    assert raised.value.exit_code == BAD_INPUT


def test_in_github_actions_the_report_is_also_the_job_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    publish("## Template diff\n", out=tmp_path / "report.md", summary=str(summary))
    assert summary.read_text() == "earlier step\n## Template diff\n"
    publish("## Template diff\n", out=tmp_path / "again.md", summary=None)
    assert (tmp_path / "again.md").read_text() == "## Template diff\n"
    assert summary.read_text() == "earlier step\n## Template diff\n"
