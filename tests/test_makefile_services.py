"""A new service is one folder: the Makefile, ruff and pytest find it without an edit.

`make lock SERVICE=<name>` compiles that one service's lock and nothing else; the services'
import roots (make dev's PYTHONPATH, mypy's MYPYPATH, bandit's paths, ruff's first-party
folders, pytest's path) are every services/<name> holding a Python package, read from disk.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.paths import ROOT
from tests.support.service_paths import service_import_roots

MAKEFILE = ROOT / "Makefile"
UV = ".venv-bootstrap/bin/uv"
LOCK_FLAGS = ["--python-version", "3.11", "--generate-hashes", "--no-header", "--quiet"]
# Installed toolchains as they are: a plan shows the target's own commands, not a reinstall.
AS_INSTALLED = [f"--old-file={path}" for path in (UV, ".venv/.installed", ".venv-tools/.installed")]


def _make_plan(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # Not the caller's make flags (a parent make's -n or jobserver would change the output).
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    env.pop("SERVICE", None)
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(MAKEFILE), "-n", *AS_INSTALLED, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _commands(*args: str, cwd: Path = ROOT) -> list[list[str]]:
    result = _make_plan(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    # make -n echoes a recipe's line continuations as they are written
    joined = result.stdout.replace("\\\n", " ")
    return [line.split() for line in joined.splitlines() if line.strip()]


def _service_compile(service: str) -> list[str]:
    lock = f"services/{service}/requirements.lock"
    return [UV, "pip", "compile", f"services/{service}/requirements.in", "-c", "requirements.lock",
            *LOCK_FLAGS, "-o", lock]  # fmt: skip


def _outputs(commands: list[list[str]]) -> list[str]:
    return [command[command.index("-o") + 1] for command in commands if "-o" in command]


def _locked_services() -> list[str]:
    return sorted(lock.parent.name for lock in (ROOT / "services").glob("*/requirements.lock"))


def test_lock_of_one_service_compiles_that_lock_alone_against_the_root_lock() -> None:
    assert _commands("lock", "SERVICE=worker") == [_service_compile("worker")]


def test_plain_lock_still_re_resolves_every_lock() -> None:
    commands = _commands("lock")
    outputs = _outputs(commands)
    assert outputs[:3] == [
        "requirements-bootstrap.lock",
        "requirements.lock",
        "requirements-tools.lock",
    ]
    # The service locks come after the root lock they are constrained by.
    assert outputs[3:] == [f"services/{name}/requirements.lock" for name in _locked_services()]
    assert [_service_compile(name) for name in _locked_services()] == commands[3:-1]
    assert commands[-1][:2] == ["npm", "install"]


@pytest.mark.parametrize("service", ["nope", "common", "web"])
def test_lock_refuses_a_service_without_a_lock_before_running_anything(service: str) -> None:
    result = _make_plan("lock", f"SERVICE={service}")
    assert result.returncode != 0
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    names = " ".join(_locked_services())
    assert f"make lock: SERVICE must be one of: {names} (got '{service}')" in line


def _plan_value(commands: list[list[str]], prefix: str) -> str:
    (value,) = [
        word.removeprefix(prefix) for c in commands for word in c if word.startswith(prefix)
    ]
    return value


def _derived(cwd: Path) -> dict[str, list[str]]:
    """The service folders on each tool's path, as the Makefile plans them in ``cwd``."""
    bandit = _commands("bandit", cwd=cwd)[-1]
    pythonpath = _plan_value(_commands("dev-api", cwd=cwd), "PYTHONPATH=")
    mypypath = _plan_value(_commands("lint", cwd=cwd), "MYPYPATH=")
    return {
        "bandit": sorted(path for path in bandit if path.startswith("services/")),
        "PYTHONPATH": sorted(pythonpath.split(":")),
        "MYPYPATH": sorted(mypypath.split(":")),
    }


def _relative(roots: list[Path], base: Path) -> list[str]:
    return sorted(root.relative_to(base).as_posix() for root in roots)


def test_the_makefile_paths_are_the_service_packages_on_disk() -> None:
    on_disk = _relative(service_import_roots(), ROOT)
    assert {"services/api", "services/common", "services/worker"} <= set(on_disk)
    assert "services/web" not in on_disk
    assert _derived(ROOT) == {"bandit": on_disk, "PYTHONPATH": on_disk, "MYPYPATH": on_disk}


@pytest.fixture
def new_service(tmp_path: Path) -> Path:
    """A scratch checkout of services/ (the code only) plus a service no list names: billing."""
    shutil.copytree(
        ROOT / "services",
        tmp_path / "services",
        ignore=shutil.ignore_patterns("web", "__pycache__"),
    )
    package = tmp_path / "services" / "billing" / "todo_billing"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A new service."""\n\nNAME = "billing"\n')
    (package.parent / "requirements.in").write_text("-r ../common/requirements.in\n")
    (package.parent / "requirements.lock").write_text("")
    (tmp_path / "services" / "notes").mkdir()  # a folder without a package is no import root
    # The recipes that call make again (lint calls bandit) read ./Makefile, and plan against
    # toolchains installed after their locks (a sub-make does not inherit --old-file).
    (tmp_path / "Makefile").symlink_to(MAKEFILE)
    for lock in ("requirements-bootstrap.lock", "requirements.lock", "requirements-tools.lock"):
        (tmp_path / lock).write_text("")
    for installed in (UV, ".venv/.installed", ".venv-tools/.installed"):
        (tmp_path / installed).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / installed).write_text("")
    return tmp_path


def test_a_new_service_folder_is_on_every_makefile_path(new_service: Path) -> None:
    expected = _relative(service_import_roots(new_service / "services"), new_service)
    assert "services/billing" in expected
    assert "services/notes" not in expected
    assert _derived(new_service) == {
        "bandit": expected,
        "PYTHONPATH": expected,
        "MYPYPATH": expected,
    }


def test_a_new_service_can_lock_alone(new_service: Path) -> None:
    assert _commands("lock", "SERVICE=billing", cwd=new_service) == [_service_compile("billing")]


def test_a_new_service_package_is_first_party_to_ruff(new_service: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", new_service)
    settings = subprocess.run(
        [
            str(ROOT / ".venv/bin/ruff"),
            "check",
            "--show-settings",
            "services/billing/todo_billing/__init__.py",
        ],
        cwd=new_service,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    src = re.search(r"^linter\.src = \[\n(.*?)^\]", settings, re.MULTILINE | re.DOTALL)
    assert src, settings
    assert str(new_service / "services" / "billing") in re.findall(r'"([^"]+)"', src.group(1))


def test_a_new_service_package_is_importable_in_the_tests(new_service: Path) -> None:
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy(ROOT / name, new_service)
    support = new_service / "tests" / "support"
    support.mkdir(parents=True)
    for init in (new_service / "tests" / "__init__.py", support / "__init__.py"):
        init.write_text("")
    shutil.copy(ROOT / "tests" / "support" / "service_paths.py", support)
    (new_service / "tests" / "test_billing.py").write_text(
        "import todo_billing\n\n\ndef test_imports() -> None:\n"
        "    assert todo_billing.NAME == 'billing'\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "tests/test_billing.py",
        ],
        cwd=new_service,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
