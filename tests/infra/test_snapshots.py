"""Snapshot of every synthesized template, with asset hashes normalised.

A change in any template shows up as a readable diff in review; accept it deliberately with
`make snapshot-update`. Asset hashes change with any byte of an asset, so they are masked.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.support.assembly import COMPONENTS, Assembly

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def normalise(template: dict[str, Any]) -> Any:
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(
    "stack",
    [
        "todo-pipeline",
        "todo-pipeline-support-us-east-1",
        *(f"todo-{env}-{stack}" for env in ("dev", "staging", "prod") for stack in COMPONENTS),
        "todo-staging-edge",
        "todo-prod-edge",
    ],
)
def test_template_matches_snapshot(
    assembly: Assembly, snapshot_json: SnapshotAssertion, stack: str
) -> None:
    assert normalise(assembly.template(stack)) == snapshot_json


def test_normalise_masks_only_asset_hashes() -> None:
    digest = "a" * 64
    assert normalise({"Key": f"{digest}.zip", "Other": "abc"}) == {
        "Key": "<asset-hash>.zip",
        "Other": "abc",
    }
