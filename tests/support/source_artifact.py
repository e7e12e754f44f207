"""What the pipeline's Source action hands every CodeBuild step, reproduced from a checkout.

The CodeConnections source action's default output (CODE_ZIP) is a ZIP of the commit: the files
git tracks, without `.git`, without anything git ignores, and without symlinks (CodePipeline
drops them). A step that needs git metadata or an ignored file fails there and nowhere else.
https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html

`export_source` builds that tree from a checkout as it is now (tracked files with their
uncommitted changes, plus new files git does not ignore: what pushing it would hand the
pipeline), through `git archive` so `.gitattributes` export rules apply as in any archive of a
commit. It also works on a tree that has no `.git` at all (the suite running inside CodeBuild):
the tree is then the artifact, minus what the build itself created there.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from config.paths import ROOT
from pipeline.buildspec import Buildspec

# What the Build step's install phase creates in the artifact before any test runs (make
# install, make web-install): linked from the checkout instead of installed again.
TOOLCHAINS = (
    ".venv",
    ".venv-tools",
    ".venv-bootstrap",
    "node_modules",
    "services/web/node_modules",
)
# The web build (make web-build) that make pytest and make synth run first; copied, since a
# symlinked directory would change the asset fingerprints synthesized from it.
WEB_DIST = "services/web/dist"
# tests/pipeline/test_source_artifact.py runs the checkout-sensitive tests again inside the
# Source artifact: it hands them, in this variable, the session's synthesis of that very artifact
# (tests/conftest.py reads it).
ARTIFACT_ASSEMBLY_ENV = "SOURCE_ARTIFACT_ASSEMBLY"


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {cwd}: {completed.stderr.decode().strip()}")
    return completed.stdout.decode().strip()


def _git_ok(cwd: Path, *args: str) -> str | None:
    """git's output, or None when it fails."""
    completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    return completed.stdout.decode().strip() if completed.returncode == 0 else None


def is_work_tree(root: Path) -> bool:
    """True when ``root`` itself is the top of a git checkout (not merely inside one)."""
    top = _git_ok(root, "rev-parse", "--show-toplevel")
    return top is not None and Path(top) == root.resolve()


def _tree_of(root: Path, scratch: Path) -> tuple[str, dict[str, str]]:
    """A git tree object holding ``root``'s files as a commit of them would, and how to read it.

    Nothing in the checkout changes: the index and the new objects live in ``scratch``.
    """
    env = {"GIT_INDEX_FILE": str(scratch / "index")}
    if is_work_tree(root):
        objects = Path(_git(root, "rev-parse", "--path-format=absolute", "--git-path", "objects"))
        env |= {
            "GIT_OBJECT_DIRECTORY": str(scratch / "objects"),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects),
        }
        (scratch / "objects").mkdir()
        if _git_ok(root, "rev-parse", "--verify", "--quiet", "HEAD"):
            _git(root, "read-tree", "HEAD", env=env)  # keeps files force-added past .gitignore
    else:
        _git(scratch, "init", "--quiet", "--bare", str(scratch / "repo"))
        env |= {"GIT_DIR": str(scratch / "repo"), "GIT_WORK_TREE": str(root)}
    _git(root, "add", "--all", env=env)
    return _git(root, "write-tree", env=env), env


def export_source(root: Path, destination: Path) -> Path:
    """The Source action's artifact for the checkout ``root``, extracted into ``destination``."""
    destination.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="source-artifact-") as scratch:
        tree, env = _tree_of(root, Path(scratch))
        archive = subprocess.run(
            ["git", "archive", "--format=tar", tree],
            cwd=root,
            env={**os.environ, **env},
            capture_output=True,
            check=True,
        ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = [member for member in tar.getmembers() if not member.issym()]
        tar.extractall(destination, members=members, filter="tar")
    return destination


def prepare_build(artifact: Path, checkout: Path) -> Path:
    """What the Build step's install phase adds to the artifact: toolchains and the web build."""
    for name in TOOLCHAINS:
        installed = checkout / name
        if installed.exists():
            (artifact / name).symlink_to(installed.resolve(), target_is_directory=True)
    shutil.copytree(checkout / WEB_DIST, artifact / WEB_DIST)
    return artifact


def files(tree: Path) -> dict[str, bytes]:
    """Every regular file under ``tree`` by relative path (symlinked directories not followed)."""
    found: dict[str, bytes] = {}
    for directory, subdirectories, names in os.walk(tree):
        subdirectories.sort()
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_file() and not path.is_symlink():
                found[str(path.relative_to(tree))] = path.read_bytes()
    return found


def build_step_pytest_args() -> list[str]:
    """What the Build step's `make pytest-build` tests: the Makefile's BUILD_STEP_TESTS."""
    if "make pytest-build" not in Buildspec.load("synth").commands:
        raise AssertionError("buildspecs/synth.yml runs no `make pytest-build`")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in makefile.splitlines():
        name, _, value = line.partition(":=")
        if name.strip() == "BUILD_STEP_TESTS":
            return shlex.split(value)
    raise AssertionError("the Makefile defines no BUILD_STEP_TESTS")


def build_step_test_modules() -> list[Path]:
    """Every test module the Build step's PYTEST_ARGS select."""
    return [
        module
        for selected in build_step_pytest_args()
        for module in (
            [ROOT / selected]
            if selected.endswith(".py")
            else sorted((ROOT / selected).rglob("test_*.py"))
        )
    ]


def checkout_test_modules() -> list[str]:
    """The Build step's test modules that mark tests `checkout` (module-wide or one by one),
    relative to the root: a run selecting that marker need import no other module."""
    return [
        str(module.relative_to(ROOT))
        for module in build_step_test_modules()
        if "pytest.mark.checkout" in module.read_text(encoding="utf-8")
    ]
