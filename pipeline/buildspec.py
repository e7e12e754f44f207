"""Buildspec files of buildspecs/ turned into the parts a CDK Pipelines step takes.

The entry point (app.py) loads them all once, with load_buildspecs; the stack and its steps
only receive the values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from config.paths import ROOT

BUILDSPEC_DIR = ROOT / "buildspecs"


@dataclass(frozen=True, kw_only=True)
class Buildspec:
    """A buildspec split the way CodeBuildStep wants it.

    CDK Pipelines generates the step's buildspec itself and merges a partial one into it,
    so install and build commands are passed as commands and the rest (runtime versions,
    variables, reports) as the partial buildspec.
    """

    name: str
    install_commands: list[str]
    commands: list[str]
    partial: dict[str, Any]

    @classmethod
    def load(cls, name: str, directory: Path = BUILDSPEC_DIR) -> Buildspec:
        path = directory / f"{name}.yml"
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or "phases" not in document:
            raise ValueError(f"{path}: not a CodeBuild buildspec (no 'phases')")
        phases = dict(document["phases"])
        install = dict(phases.pop("install", {}))
        build = dict(phases.pop("build", {}))
        install_commands = list(install.pop("commands", []))
        commands = list(build.pop("commands", []))
        if not commands:
            raise ValueError(f"{path}: phases.build.commands is empty")
        partial_phases = {
            key: value for key, value in {"install": install, **phases}.items() if value
        }
        partial = {key: value for key, value in document.items() if key != "phases"}
        if partial_phases:
            partial["phases"] = partial_phases
        return cls(name=name, install_commands=install_commands, commands=commands, partial=partial)

    @property
    def runtime_versions(self) -> dict[str, str]:
        """The install phase's `runtime-versions` (runtime -> version), empty when it has none."""
        install = self.partial.get("phases", {}).get("install", {})
        return {
            str(name): str(version) for name, version in install.get("runtime-versions", {}).items()
        }

    def document(self) -> dict[str, Any]:
        """The whole buildspec again, for a CodeBuild project CDK Pipelines does not generate."""
        phases = {name: dict(phase) for name, phase in self.partial.get("phases", {}).items()}
        if self.install_commands:
            phases.setdefault("install", {})["commands"] = list(self.install_commands)
        phases["build"] = {**phases.get("build", {}), "commands": list(self.commands)}
        return {**self.partial, "phases": phases}


@dataclass(frozen=True, kw_only=True)
class Buildspecs:
    """Every buildspec the pipeline runs, one field per step (the file is the field's name
    with dashes: change_report is buildspecs/change-report.yml)."""

    synth: Buildspec
    images: Buildspec
    change_report: Buildspec
    verify: Buildspec


def load_buildspecs(directory: Path = BUILDSPEC_DIR) -> Buildspecs:
    """Every buildspec of ``directory`` the pipeline runs."""
    return Buildspecs(
        **{
            field.name: Buildspec.load(field.name.replace("_", "-"), directory)
            for field in fields(Buildspecs)
        }
    )
