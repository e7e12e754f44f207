"""The services' import roots: every services/<name> folder holding a Python package.

The services are not installed packages; each image puts its folder's package on PYTHONPATH.
The Makefile derives the same list (SERVICES_PYTHONPATH) for make dev, mypy and bandit, and
./conftest.py puts it on pytest's path, so a new service folder needs no edit to either.
"""

from __future__ import annotations

from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"


def service_import_roots(services: Path = SERVICES) -> list[Path]:
    """Each folder under ``services`` with a package (``<folder>/<package>/__init__.py``)."""
    return sorted({init.parent.parent for init in services.glob("*/*/__init__.py")})
