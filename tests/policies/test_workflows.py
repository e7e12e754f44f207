"""GitHub workflows: the real linters pass, and the house rules hold on every workflow."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.paths import ROOT
from policies.workflows import (
    MAKEFILE,
    WORKFLOWS_DIR,
    check_directory,
    check_workflow,
    load_workflow,
    main,
    make_targets,
    write_scopes,
)

TOOLS_BIN = ROOT / ".venv-tools" / "bin"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS_DIR.glob("*.yml"))


def _workflow(name: str) -> dict[str, Any]:
    return load_workflow(WORKFLOWS_DIR / name)


def _run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def test_actionlint_passes_on_every_workflow() -> None:
    result = _run(str(TOOLS_BIN / "actionlint"), "-no-color", *map(str, WORKFLOW_FILES))
    assert (result.returncode, result.stdout) == (0, "")


def test_actionlint_is_live(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.event.no_such_thing }}\n        timeout: 3\n"
    )
    result = _run(str(TOOLS_BIN / "actionlint"), "-no-color", str(broken))
    assert result.returncode == 1
    assert 'unexpected key "timeout"' in result.stdout


@pytest.mark.checkout  # zizmor walks the whole tree, .git or not
def test_zizmor_finds_nothing_offline_even_when_pedantic() -> None:
    result = _run(
        str(TOOLS_BIN / "zizmor"), "--offline", "--persona=pedantic", "--no-progress", "."
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_is_live_on_a_template_injection(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "insecure.yml", tmp_path / "insecure.yml")
    result = _run(
        str(TOOLS_BIN / "zizmor"),
        "--offline",
        "--no-progress",
        "--format=plain",
        str(tmp_path / "insecure.yml"),
    )
    assert result.returncode != 0
    for audit in ("template-injection", "dangerous-triggers", "unpinned-uses", "artipacked"):
        assert audit in result.stdout, audit


def test_house_rules_hold_on_every_workflow() -> None:
    assert [str(finding) for finding in check_directory()] == []
    assert main([]) == 0


def test_house_rules_name_each_violation() -> None:
    path = FIXTURES / "insecure.yml"
    findings = check_workflow(
        path.name, path.read_text(), load_workflow(path), make_targets(MAKEFILE)
    )
    assert sorted((f.rule, f.where) for f in findings) == sorted(
        [
            ("forbidden-trigger", "on"),
            ("top-level-read-only", "permissions"),
            ("cancel-superseded-runs", "concurrency"),
            ("timeout", "job build"),
            ("pinned-action", "line 14"),
            ("pinned-action", "line 15"),
            ("persist-credentials", "job build step 1 (actions/checkout@v4)"),
            ("no-expressions-in-run", "job build step 3 (run)"),
            ("make-targets-only", "job build step 3 (run)"),
            ("make-targets-only", "job build step 4 (run)"),
            ("make-targets-only", "job build step 5 (run)"),
        ]
    )
    messages = {f.message for f in findings if f.rule == "make-targets-only"}
    assert messages == {
        "'echo \"${{ github.event.pull_request.title }}\"' is not a make invocation",
        "'npm test' is not a make invocation",
        "make target 'no-such-target' does not exist",
    }


def test_cli_exits_1_on_findings_and_2_on_an_unreadable_workflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(FIXTURES / "insecure.yml", tmp_path / "insecure.yml")
    assert main([str(tmp_path)]) == 1
    assert "insecure.yml: on: forbidden-trigger" in capsys.readouterr().out
    (tmp_path / "insecure.yml").write_text("- just\n- a list\n")
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "workflow rules: insecure.yml: not a workflow (expected a mapping at the top)"
    )


def test_only_the_jobs_that_must_write_can_write() -> None:
    scopes = {
        name: {job: sorted(s) for job, s in write_scopes(_workflow(name)).items() if s}
        for name in ("pr.yml", "drift.yml", "rollback.yml")
    }
    assert scopes == {
        "pr.yml": {"template-diff-comment": ["pull-requests"]},
        "drift.yml": {"detect": ["id-token", "issues"]},
        "rollback.yml": {"open-revert-pr": ["contents", "pull-requests"]},
    }
    for path in WORKFLOW_FILES:
        assert load_workflow(path)["permissions"] == {"contents": "read"}, path.name


def test_pull_request_jobs_hold_no_aws_credentials_and_run_no_untrusted_code_with_a_token() -> None:
    pr = _workflow("pr.yml")
    assert set(pr["on"]) == {"pull_request"}
    text = (WORKFLOWS_DIR / "pr.yml").read_text()
    assert "configure-aws-credentials" not in text
    assert "id-token" not in text
    comment = pr["jobs"]["template-diff-comment"]
    # The job with a write token runs the base branch's code on the report, never the head's.
    (checkout,) = [
        s for s in comment["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert comment["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert [s["run"] for s in comment["steps"] if "run" in s] == ["make pr-comment"]


def test_pull_request_checks_cover_lint_tests_synth_images_and_workflows() -> None:
    jobs = _workflow("pr.yml")["jobs"]
    runs = {name: [s["run"] for s in job["steps"] if "run" in s] for name, job in jobs.items()}
    assert runs == {
        "lint": ["make install lint"],
        "test": ["make pytest web-test", 'make migration-check BASE="origin/$BASE_REF"'],
        "synth": ["make run"],
        "image-list": ["make image-matrix"],
        "images": ['make image-build image-scan image-start SERVICE="$SERVICE"'],
        "workflows": ["make workflow-lint"],
        "template-diff": ['make pr-diff BASE="origin/$BASE_REF"'],
        "template-diff-comment": ["make pr-comment"],
    }
    postgres = jobs["test"]["services"]["postgres"]
    assert postgres["image"].startswith("public.ecr.aws/docker/library/postgres:16-alpine@sha256:")
    assert jobs["test"]["env"]["REQUIRE_POSTGRES"] == "1"
    # The matrix is every service with a Dockerfile (tests/ops/test_github_targets.py).
    assert jobs["images"]["needs"] == "image-list"


def test_drift_runs_daily_and_on_demand_with_the_oidc_role() -> None:
    drift = _workflow("drift.yml")
    assert set(drift["on"]) == {"schedule", "workflow_dispatch"}
    steps = drift["jobs"]["detect"]["steps"]
    (aws,) = [s for s in steps if "configure-aws-credentials" in str(s.get("uses", ""))]
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DRIFT_ROLE_ARN }}"
    assert "aws-access-key-id" not in aws["with"]
    assert [s["run"] for s in steps if "run" in s] == ["make drift", "make drift-issue"]


def test_rollback_takes_one_optional_commit_input_through_the_environment() -> None:
    rollback = _workflow("rollback.yml")
    inputs = rollback["on"]["workflow_dispatch"]["inputs"]
    assert list(inputs) == ["commit"]
    assert inputs["commit"]["required"] is False
    job = rollback["jobs"]["open-revert-pr"]
    assert job["env"]["ROLLBACK_COMMIT"] == "${{ inputs.commit }}"
    assert [s["run"] for s in job["steps"] if "run" in s] == [
        'make rollback COMMIT="$ROLLBACK_COMMIT"',
        "make rollback-pr",
    ]


MANIFESTS = {
    "pip": ("pyproject.toml", "requirements.in"),
    "npm": ("package.json",),
    "docker": ("Dockerfile",),
    "github-actions": (".github/workflows",),
}


def _watched(directories: list[str]) -> list[list[Path]]:
    """The folders each dependabot directory entry names (an entry may be a glob)."""
    return [
        [ROOT] if not entry.strip("/") else sorted(ROOT.glob(entry.strip("/")))
        for entry in directories
    ]


def test_dependabot_watches_every_ecosystem_where_its_manifests_are() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == set(MANIFESTS)
    for ecosystem, update in updates.items():
        for folders in _watched(update.get("directories", [update.get("directory")])):
            # Each entry names at least one folder that holds the ecosystem's manifest.
            assert any(
                (folder / manifest).exists()
                for folder in folders
                for manifest in MANIFESTS[ecosystem]
            ), (ecosystem, folders)
    watched_images = {
        folder.name
        for folders in _watched(updates["docker"]["directories"])
        for folder in folders
        if (folder / "Dockerfile").exists()
    }
    # A new service's Dockerfile is watched without an edit to dependabot.yml.
    assert watched_images == {p.parent.name for p in (ROOT / "services").glob("*/Dockerfile")}
    watched_requirements = {
        folder for folders in _watched(updates["pip"]["directories"]) for folder in folders
    }
    assert {p.parent for p in (ROOT / "services").glob("*/requirements.in")} <= watched_requirements
