"""The API's real start command, ``python -m todo_api``, as a subprocess whose JSON log lines
are collected as they come (the service tests, and the post-deploy checks run against it)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from config.paths import ROOT

PYTHONPATH = os.pathsep.join(str(ROOT / part) for part in ("services/common", "services/api"))


def api_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "API_", "DATA_DIR", "LOG_LEVEL"))
    }
    env.update(PYTHONPATH=PYTHONPATH, DATA_DIR=str(tmp_path / "data"), API_PORT="0")
    env.update(extra)
    return env


class ApiProcess:
    """``python -m todo_api`` with its JSON log lines collected as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "todo_api"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except json.JSONDecodeError:
                self.lines.put({"message": line.rstrip(), "raw": True})

    def wait_for(self, text: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for entry in self.seen:
            if text in entry.get("message", ""):
                return entry
        while time.monotonic() < deadline:
            try:
                entry = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(entry)
            if text in entry.get("message", ""):
                return entry
        raise AssertionError(f"no log line with {text!r}; got {self.seen}")

    def drain(self) -> list[dict[str, Any]]:
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return self.seen
