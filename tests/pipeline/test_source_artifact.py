"""What the step receives: the Build step's commands run on exactly what the Source action hands
CodeBuild (a ZIP of the commit: no .git, nothing git ignores), not on a developer's checkout.

The Synth step installs, lints, runs the tests, synthesizes and gates on that artifact; every
other step runs its make target there too. Here the artifact is exported from this checkout
(tests/support/source_artifact.py), given what the install phase adds (toolchains, web build),
and then: every buildspec command resolves (`make -n`), the tests that read the checkout as a
whole pass there with git as CodeBuild has it, and lint sees only the source. The session's own
synthesis is of this artifact too (tests/conftest.py), and tests/infra/test_determinism.py
compares it byte for byte with a synthesis of the checkout.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from config.paths import ROOT
from pipeline.buildspec import BUILDSPEC_DIR, Buildspec
from tests.support.assembly import Assembly, resources
from tests.support.source_artifact import (
    ARTIFACT_ASSEMBLY_ENV,
    TOOLCHAINS,
    WEB_DIST,
    build_step_test_modules,
    checkout_test_modules,
    export_source,
    files,
    is_work_tree,
    prepare_build,
)

# Git as a CodeBuild container has it: no ~/.gitconfig (no identity), no system config.
CODEBUILD_GIT = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def test_the_steps_receive_a_zip_of_the_commit_not_a_clone(assembly: Assembly) -> None:
    """The artifact modelled here is the one the synthesized Source action produces."""
    (pipeline,) = resources(assembly.pipeline_template, "AWS::CodePipeline::Pipeline").values()
    (source,) = pipeline["Properties"]["Stages"][0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"].get("OutputArtifactFormat", "CODE_ZIP") == "CODE_ZIP"


@pytest.mark.parametrize(
    "buildspec", sorted(path.stem for path in BUILDSPEC_DIR.glob("*.yml")), ids=str
)
def test_every_buildspec_command_resolves_on_the_artifact(
    buildspec: str, source_artifact: Path
) -> None:
    """`make -n` of each command: a target or prerequisite file that is not committed fails."""
    spec = Buildspec.load(buildspec)
    for command in [*spec.install_commands, *spec.commands]:
        words = shlex.split(command)
        assert words[0] == "make", f"{buildspec}: {command!r} is not a make target"
        dry_run = subprocess.run(
            ["make", "--no-print-directory", "-n", *words[1:]],
            cwd=source_artifact,
            env={**os.environ, "MAKEFLAGS": ""},
            capture_output=True,
            text=True,
            check=False,
        )
        assert dry_run.returncode == 0, f"{buildspec}: {command}: {dry_run.stderr.strip()}"


def test_the_build_steps_checkout_tests_pass_on_the_artifact(
    source_artifact: Path, assembly: Assembly, tmp_path: Path
) -> None:
    """Run there every test of the Build step's PYTEST_ARGS that is marked `checkout`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "GIT_")) and key != ARTIFACT_ASSEMBLY_ENV
    }
    environment |= Buildspec.load("synth").partial.get("env", {}).get("variables", {})
    environment |= CODEBUILD_GIT | {ARTIFACT_ASSEMBLY_ENV: str(assembly.root)}
    completed = subprocess.run(
        [
            # The artifact's .venv links to this interpreter's venv. Started by that link's
            # path, Python would see the installed packages at new paths and compile the whole
            # CDK library again into the bytecode cache: the same packages, seconds slower.
            sys.executable,
            *("-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-m", "checkout", "-q"),
            f"--basetemp={tmp_path / 'basetemp'}",
            # Only the modules that mark a test `checkout`: collecting the other 850 tests
            # only to deselect them was most of this run.
            *checkout_test_modules(),
        ],
        cwd=source_artifact,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else ""
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", summary) and " failed" not in summary, summary


def test_every_build_step_test_module_that_runs_git_is_marked_checkout() -> None:
    """So the run above cannot miss one: git behaves differently without .git or an identity."""
    unmarked = [
        str(module.relative_to(ROOT))
        for module in build_step_test_modules()
        if re.search(r'\[\s*"git"', source := module.read_text(encoding="utf-8"))
        and not re.search(r"^pytestmark = pytest\.mark\.checkout$", source, re.MULTILINE)
    ]
    assert unmarked == []


@pytest.mark.checkout
def test_exporting_an_artifact_gives_the_artifact_back(tmp_path: Path) -> None:
    """With .git (a laptop) or without (inside CodeBuild), the export is the same tree, and it
    leaves out what the build added (toolchains, web build, caches)."""
    first = export_source(ROOT, tmp_path / "first")
    expected = files(first)
    prepare_build(first, ROOT)
    (first / ".pytest_cache").mkdir()
    (first / ".pytest_cache" / "v").write_text("cache", encoding="utf-8")
    assert not is_work_tree(first)
    again = files(export_source(first, tmp_path / "again"))
    assert sorted(again) == sorted(expected)
    assert [name for name in expected if expected[name] != again[name]] == []
    assert not [name for name in again if name.startswith((".git/", WEB_DIST, *TOOLCHAINS))]


def _ignored_directories() -> list[str]:
    """Every directory .gitignore names, as a path to create at the top of the tree."""
    lines = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    return [line.strip("/") for line in lines if line.endswith("/") and "*" not in line]


@pytest.mark.checkout
def test_lint_sees_the_source_only_when_the_build_filled_the_ignored_directories(
    tmp_path: Path,
) -> None:
    """make lint runs after make install: the venvs are real directories full of Python there.

    Ruff honours .gitignore only inside a git repository, so each one would be linted.
    """
    tree = export_source(ROOT, tmp_path / "tree")
    for directory in _ignored_directories():
        (tree / directory).mkdir(parents=True, exist_ok=True)
        (tree / directory / "installed.py").write_text("import os\nx=1\n", encoding="utf-8")
    lint = subprocess.run(
        ["make", "--no-print-directory", "-n", "lint"],
        cwd=tree,
        env={**os.environ, "MAKEFLAGS": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    ruff_commands = [shlex.split(line) for line in lint if line.startswith(".venv/bin/ruff ")]
    assert len(ruff_commands) == 2, lint
    for _ruff, *args in ruff_commands:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("ruff")), *args],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"ruff {' '.join(args)}:\n{result.stdout[-3000:]}"
