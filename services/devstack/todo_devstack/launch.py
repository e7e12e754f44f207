"""How the dev stack starts a registered service, from the service's own folder.

* The command: the exec-form ``CMD [...]`` of ``services/<name>/Dockerfile`` (the image's
  start, so ``make dev`` starts what Fargate starts), with ``python`` meaning the dev
  stack's own interpreter.
* Its local settings: the optional ``services/<name>/devstack.env``, ``KEY=VALUE`` lines
  (``#`` comments and blank lines skipped), where ``{data_dir}`` is the dev stack's data
  folder. Only what differs from the service's defaults for a laptop belongs there.
* ``PYTHONPATH``: every ``services/*/`` folder that holds a Python package, so a new
  service's folder is picked up without editing the dev stack.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

ENV_FILE = "devstack.env"
PLACEHOLDERS = ("data_dir",)
_KEY = re.compile(r"[A-Z_][A-Z0-9_]*")
_PYTHON = {"python", "python3"}


class LaunchError(Exception):
    """A service cannot be started; ``str()`` is one line naming the file."""


def python_path(services_dir: Path) -> str:
    """The ``services/*/`` folders that hold a package, joined for PYTHONPATH."""
    folders = sorted(
        folder
        for folder in services_dir.iterdir()
        if folder.is_dir()
        and any(child.joinpath("__init__.py").is_file() for child in folder.iterdir())
    )
    return os.pathsep.join(str(folder) for folder in folders)


def dockerfile_command(dockerfile: Path) -> list[str]:
    """The last ``CMD`` of ``dockerfile`` (exec form), ``python`` as this interpreter."""
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except OSError as error:
        raise LaunchError(
            f"{dockerfile}: cannot read the start command: {error.strerror}"
        ) from None
    logical = re.sub(r"\\\n", " ", text)
    commands = [
        line.strip()[3:].strip()
        for line in logical.splitlines()
        if re.match(r"\s*CMD\s", line, re.IGNORECASE)
    ]
    if not commands:
        raise LaunchError(f"{dockerfile}: no CMD (the service's start command)")
    try:
        argv = json.loads(commands[-1])
    except json.JSONDecodeError:
        argv = None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise LaunchError(f'{dockerfile}: CMD must be the exec form ["..."], got {commands[-1]}')
    return [sys.executable if argv[0] in _PYTHON else argv[0], *argv[1:]]


def local_settings(service_dir: Path, *, data_dir: Path) -> dict[str, str]:
    """The service's ``devstack.env`` (none: no local settings)."""
    path = service_dir / ENV_FILE
    if not path.exists():
        return {}
    settings: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not _KEY.fullmatch(key.strip()):
            raise LaunchError(f"{path}:{number}: expected KEY=VALUE, got {line!r}")
        settings[key.strip()] = _substitute(value.strip(), f"{path}:{number}", data_dir=data_dir)
    return settings


def _substitute(value: str, where: str, *, data_dir: Path) -> str:
    unknown = sorted(set(re.findall(r"\{(\w*)\}", value)) - set(PLACEHOLDERS))
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        raise LaunchError(f"{where}: unknown placeholder {{{unknown[0]}}} (known: {allowed})")
    return value.replace("{data_dir}", str(data_dir))
