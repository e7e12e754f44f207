"""The make targets the GitHub workflows call exist, say what they do and reach their modules."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from config.paths import ROOT

# target -> its one recipe line, as written in the Makefile
TARGETS = {
    "pr-comment": "$(PY) -m ops.review.pr_comment --report build/diff/report.md",
    "drift": "$(PY) -m ops.drift.detect --assembly $(OUT) --out build/drift/report.md",
    "drift-issue": "$(PY) -m ops.drift.issue --report build/drift/drift.json",
    "rollback": '$(PY) -m ops.rollback.revert --commit "$(COMMIT)"',
    "rollback-pr": "$(PY) -m ops.rollback.pr",
    "diff": "$(PY) -m ops.review.ref_diff --base $(BASE) --out build/diff/report.md "
    "--workdir build/diff/work",
    "pr-diff": "$(PY) -m policies.pipeline_integrity build/diff/work/head.out "
    "--append build/diff/report.md --report-only",
}


@pytest.mark.parametrize(("target", "recipe"), TARGETS.items())
def test_each_target_has_help_and_one_python_command(target: str, recipe: str) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(target)}:[^\n]*## (.+)\n((?:\t[^\n]*\n)+)", makefile, re.M)
    assert match, f"{target}: no target with a ## description"
    assert match.group(2).strip().splitlines() == [recipe]


def _dry_run(*args: str, **env: str) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_rollback_commit_comes_from_the_make_variable_or_the_workflow_input() -> None:
    assert '--commit "abc1234"' in _dry_run("rollback", "COMMIT=abc1234")
    assert '--commit "def5678"' in _dry_run("rollback", ROLLBACK_COMMIT="def5678")
    assert '--commit ""' in _dry_run("rollback", ROLLBACK_COMMIT="")


def test_the_pull_request_image_matrix_is_every_service_with_a_dockerfile(tmp_path: Path) -> None:
    output = tmp_path / "github-output"
    subprocess.run(
        ["make", "--no-print-directory", "--silent", "image-matrix"],
        cwd=ROOT,
        env={**os.environ, "GITHUB_OUTPUT": str(output)},
        check=True,
    )
    key, value = output.read_text(encoding="utf-8").strip().split("=", 1)
    on_disk = sorted(path.parent.name for path in (ROOT / "services").glob("*/Dockerfile"))
    assert (key, sorted(json.loads(value))) == ("services", on_disk)
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pr.yml").read_text())
    images = workflow["jobs"]["images"]
    assert images["strategy"]["matrix"]["service"] == (
        "${{ fromJSON(needs.image-list.outputs.services) }}"
    )
    assert workflow["jobs"]["image-list"]["steps"][-1]["run"] == "make image-matrix"
