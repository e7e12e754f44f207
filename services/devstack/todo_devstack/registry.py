"""The service registry, read from the environment file: which services exist and how
they meet the event topic.

``config/environments.toml`` (or the file named by ``DELIVERY_CONFIG``) holds one
``[services.<name>]`` table per service; the infra builds each service's cloud resources
from it, and the dev stack and the start checks build the local ones from it. The services
are packaged apart from the repository's ``config`` package, so this reads the file with
``tomllib`` and checks only what the local stacks rely on (``config`` validates the rest).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

CONFIG_VARIABLE = "DELIVERY_CONFIG"
Kind = Literal["http", "consumer"]
KINDS: tuple[Kind, ...] = ("http", "consumer")


class RegistryError(Exception):
    """The registry cannot be used; ``str()`` is one line naming the file and the key."""


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    name: str
    kind: Kind
    database: bool = False
    publishes_events: bool = False
    # The event types its queue's subscription lets through (a consumer's).
    consumes: tuple[str, ...] = ()
    # An http service's.
    port: int | None = None
    health_check_path: str | None = None
    # A consumer's: its container health check.
    health_command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Registry:
    project: str
    services: dict[str, ServiceSpec]

    def service_name(self, name: str) -> str:
        """SERVICE_NAME, as the infra sets it: ``<project>-<service>``."""
        return f"{self.project}-{name}"

    def consumers(self) -> dict[str, tuple[str, ...]]:
        """Each consumer and the event types it consumes."""
        return {
            name: spec.consumes for name, spec in self.services.items() if spec.kind == "consumer"
        }

    def of_kind(self, kind: Kind) -> list[ServiceSpec]:
        return [spec for spec in self.services.values() if spec.kind == kind]


def registry_file(root: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """``DELIVERY_CONFIG`` if set, else the checkout's ``config/environments.toml``."""
    named = environ.get(CONFIG_VARIABLE)
    return Path(named) if named else root / "config" / "environments.toml"


def load_registry(path: Path) -> Registry:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RegistryError(f"{path}: cannot read the service registry: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise RegistryError(f"{path}: not TOML: {error}") from None
    tables = data.get("services")
    if not isinstance(tables, dict) or not tables:
        raise RegistryError(f"{path}: no [services.<name>] tables (the service registry)")
    project = data.get("project", {}).get("name", "todo")
    services = {name: _service(path, name, table) for name, table in tables.items()}
    return Registry(project=str(project), services=services)


def _service(path: Path, name: str, table: Any) -> ServiceSpec:
    where = f"{path}: services.{name}"
    if not isinstance(table, dict):
        raise RegistryError(f"{where}: must be a table")
    kind = table.get("kind")
    if kind not in KINDS:
        raise RegistryError(f"{where}.kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    spec = ServiceSpec(
        name=name,
        kind=cast("Kind", kind),
        database=_typed(where, table, "database", bool, False),
        publishes_events=_typed(where, table, "publishes_events", bool, False),
        consumes=_strings(where, table, "consumes"),
        port=_typed(where, table, "port", int, None),
        health_check_path=_typed(where, table, "health_check_path", str, None),
        health_command=_strings(where, table, "health_command"),
    )
    if kind == "http" and (spec.port is None or spec.health_check_path is None):
        raise RegistryError(f"{where}: an http service needs port and health_check_path")
    if kind == "consumer" and not spec.health_command:
        raise RegistryError(f"{where}: a consumer needs health_command")
    return spec


def _typed(where: str, table: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = table.get(key, default)
    # bool is an int in Python; a port of `true` is still wrong.
    if value is not default and (not isinstance(value, kind) or type(value) is not kind):
        raise RegistryError(f"{where}.{key}: must be {kind.__name__}, got {value!r}")
    return value


def _strings(where: str, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RegistryError(f"{where}.{key}: must be a list of strings, got {value!r}")
    return tuple(value)
