"""Results computed once per test session and shared by every xdist worker, through files.

Each xdist worker is its own process with its own session fixtures: a session-scoped fixture
alone would run a scanner once per worker. The first worker to ask computes the result under a
file lock and writes it to the workers' shared temporary directory; the others read that file.
A computation that raises writes nothing, so every test that needs it fails the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from filelock import FileLock

T = TypeVar("T")


def shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The directory every worker of this session sees (the session's basetemp without xdist)."""
    base = tmp_path_factory.getbasetemp()
    # Every xdist worker has its own basetemp below one shared parent.
    return base.parent if worker_id != "master" else base


def once_per_session(
    shared: Path,
    name: str,
    compute: Callable[[], T],
    *,
    encode: Callable[[T], Any],
    decode: Callable[[Any], T],
) -> T:
    """``compute()`` in the first worker that asks, ``decode`` of its JSON in the others.

    The worker that computed it decodes the file as well, so every worker gets the same value
    whatever ``encode`` would lose.
    """
    result_file = shared / f"{name}.json"
    with FileLock(str(shared / f"{name}.lock")):
        if not result_file.exists():
            written = result_file.with_suffix(".partial")
            written.write_text(json.dumps(encode(compute())), encoding="utf-8")
            written.replace(result_file)
    return decode(json.loads(result_file.read_text(encoding="utf-8")))
