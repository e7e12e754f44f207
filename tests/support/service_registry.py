"""The service registry the local stacks read: the checkout's, once it has one.

Until the infra half of issue 13 adds the ``[services.<name>]`` tables to
config/environments.toml, the tests that start the dev stack or the start check point
``DELIVERY_CONFIG`` at a copy of the agreed schema (REGISTRY below) instead.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from config.paths import ROOT

CHECKOUT_FILE = ROOT / "config" / "environments.toml"
REGISTRY = """\
[project]
name = "todo"

[services.api]
kind = "http"
path_pattern = "/api/*"
port = 8000
health_check_path = "/api/health"
database = true
publishes_events = true

[services.api.deployment_alarms]
target_5xx_count = 5
p99_latency_seconds = 2.0

[services.worker]
kind = "consumer"
consumes = ["todo.created", "todo.updated", "todo.completed", "todo.deleted"]
health_command = ["python", "-m", "todo_worker.health"]
database = true

[services.worker.deployment_alarms]
backlog_age_seconds = 600
"""


def checkout_has_registry() -> bool:
    return "services" in tomllib.loads(CHECKOUT_FILE.read_text(encoding="utf-8"))


def registry_file(directory: Path) -> Path:
    """The checkout's environment file if it holds the registry, else a copy of REGISTRY."""
    if checkout_has_registry():
        return CHECKOUT_FILE
    path = directory / "services.toml"
    path.write_text(REGISTRY, encoding="utf-8")
    return path
