"""What an organisation check must decide on its fixtures, read from the fixture folder itself.

Each `<fixtures>/<check file name>/` holds `pass.yaml`, `fail.yaml` and `expected.yaml`: the
check's id and the exact resources it must pass and fail, as "<file>:<Type>.<LogicalId>"
(e.g. `fail:AWS::SQS::Queue.NoRedrive`, the queue `NoRedrive` of fail.yaml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import yaml

EXPECTED_FILE = "expected.yaml"
FIXTURE_FILES = frozenset({"pass.yaml", "fail.yaml", EXPECTED_FILE})
_KEYS = {"check_id", "passed", "failed"}


class Expected(NamedTuple):
    check_id: str
    passed: frozenset[str]
    failed: frozenset[str]


def _resources(path: Path, document: dict[str, Any], key: str) -> frozenset[str]:
    entries = document[key]
    if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
        raise ValueError(f"{path}: {key} must be a list of '<file>:<Type>.<LogicalId>'")
    if len(set(entries)) != len(entries):
        raise ValueError(f"{path}: {key} lists a resource twice")
    return frozenset(entries)


def _load_expected(path: Path) -> Expected:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or set(document) != _KEYS:
        raise ValueError(f"{path}: must have exactly the keys {sorted(_KEYS)}")
    if not isinstance(document["check_id"], str):
        raise ValueError(f"{path}: check_id must be a string")
    return Expected(
        check_id=document["check_id"],
        passed=_resources(path, document, "passed"),
        failed=_resources(path, document, "failed"),
    )


def load_expectations(fixtures: Path) -> dict[str, Expected]:
    """Fixture folder name (the check's file name) -> its expected.yaml, for every folder that
    has one."""
    return {
        path.parent.name: _load_expected(path)
        for path in sorted(fixtures.glob(f"*/{EXPECTED_FILE}"))
    }
