"""Every buildspec parses and only calls make targets that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from config.paths import ROOT
from pipeline.buildspec import BUILDSPEC_DIR, Buildspec

BUILDSPECS = sorted(BUILDSPEC_DIR.glob("*.yml"))


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-zA-Z][a-zA-Z0-9_-]*):", makefile, flags=re.MULTILINE))


def test_there_are_buildspecs() -> None:
    assert {path.stem for path in BUILDSPECS} == {"synth", "images", "change-report", "verify"}


@pytest.mark.parametrize("path", BUILDSPECS, ids=lambda p: p.name)
def test_buildspec_commands_are_only_existing_make_targets(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert document["version"] == 0.2
    targets = make_targets()
    for phase in document["phases"].values():
        for command in phase.get("commands", []):
            words = shlex.split(command)
            assert words[0] == "make", f"{path.name}: {command!r} bypasses the Makefile"
            called = [word for word in words[1:] if "=" not in word and not word.startswith("-")]
            assert called, command
            assert set(called) <= targets, f"{path.name}: unknown target in {command!r}"


def test_loader_splits_commands_from_the_partial_buildspec() -> None:
    spec = Buildspec.load("synth")
    assert spec.install_commands == ["make install"]
    assert spec.commands[-1] == "make plan"
    assert "commands" not in spec.partial["phases"]["install"]
    assert spec.partial["env"]["variables"]["CI"] == "true"


def test_document_is_the_file_again() -> None:
    """What a project CDK Pipelines does not generate runs (the Images action)."""
    for path in BUILDSPECS:
        spec = Buildspec.load(path.stem)
        assert spec.document() == yaml.safe_load(path.read_text(encoding="utf-8")), path.name


def test_loader_rejects_a_file_without_build_commands(tmp_path: Path) -> None:
    (tmp_path / "empty.yml").write_text("version: 0.2\nphases:\n  build: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.yml: phases\.build\.commands is empty"):
        Buildspec.load("empty", directory=tmp_path)
