"""The layer contracts of `make lint` catch the imports they exist to forbid.

Each case copies the repository's Python packages and pyproject.toml, adds one module that breaks
one rule, and runs import-linter on the copy: the contract must break, naming the import. The
untouched copy must pass, so a failure is the added import and nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.paths import ROOT

PACKAGES = ("config", "infra", "pipeline", "ops", "policies", "bench", "tests")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            target = copy / source.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    shutil.copyfile(ROOT / "pyproject.toml", copy / "pyproject.toml")
    shutil.copyfile(ROOT / "app.py", copy / "app.py")
    return copy


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_repository_as_it_is_keeps_every_contract(packages: Path) -> None:
    result = lint_imports(packages)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("infra/zz_probe.py", "import pipeline.cdk_app", "infra.zz_probe -> pipeline.cdk_app"),
        ("infra/zz_probe.py", "import ops.review.plan", "infra.zz_probe -> ops.review.plan"),
        ("config/zz_probe.py", "import infra.images", "config.zz_probe -> infra.images"),
        ("config/zz_probe.py", "import aws_cdk", "config.zz_probe -> aws_cdk"),
        ("pipeline/zz_probe.py", "import boto3", "pipeline.zz_probe -> boto3"),
        ("pipeline/zz_probe.py", "import ops.release.bake", "pipeline.zz_probe -> ops.release"),
        ("ops/zz_probe.py", "from app import main", "ops.zz_probe -> app"),
        ("tests/zz_probe.py", "import app", "tests.zz_probe -> app"),
    ],
)
def test_an_import_against_the_layers_breaks_a_contract(
    packages: Path, tmp_path: Path, module: str, line: str, broken: str
) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(packages, tree)
    (tree / module).write_text(f"{line}\n", encoding="utf-8")

    result = lint_imports(tree)

    assert result.returncode != 0
    assert broken in result.stdout, result.stdout
