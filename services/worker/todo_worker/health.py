"""``python -m todo_worker.health``: the container health check.

Exit 0 when the worker's heartbeat file (``WORKER_HEARTBEAT_FILE``, touched
after every receive and every message) is younger than
``WORKER_HEARTBEAT_MAX_AGE_SECONDS``; else exit 1 with the reason. Reads two
environment variables only and imports nothing beyond the standard library (not the
settings: pydantic alone takes about a second to import on a fraction of a vCPU, and ECS
counts a check that overruns its 5 s timeout as failed), so it starts fast and needs no
queue or database.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# In the task's own /tmp volume (the container's root filesystem is read-only).
DEFAULT_HEARTBEAT_FILE = Path("/tmp/todo-worker.heartbeat")  # noqa: S108 # nosec B108
DEFAULT_MAX_AGE_SECONDS = 90


def check(path: Path, max_age: float, now: float | None = None) -> str | None:
    """None when fresh, else why not."""
    try:
        mtime = path.stat().st_mtime
    except OSError as error:
        return f"no heartbeat at {path}: {error.strerror}"
    age = (time.time() if now is None else now) - mtime
    if age > max_age:
        return f"heartbeat {path} is {age:.0f} s old (max {max_age:.0f} s)"
    return None


def main() -> int:
    path = Path(os.environ.get("WORKER_HEARTBEAT_FILE") or DEFAULT_HEARTBEAT_FILE)
    try:
        max_age = float(
            os.environ.get("WORKER_HEARTBEAT_MAX_AGE_SECONDS") or DEFAULT_MAX_AGE_SECONDS
        )
    except ValueError:
        print("invalid setting WORKER_HEARTBEAT_MAX_AGE_SECONDS: not a number", file=sys.stderr)
        return 2
    problem = check(path, max_age)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
