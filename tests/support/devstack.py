"""The ``make dev`` stack (``python -m todo_devstack``) on free ports, for the tests that need
the whole app running locally: the browser test and the deployment hook's checks. Its demo
user (the local issuer's, printed at start) is in ``Stack.demo_email``/``demo_password``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from config.model import DEFAULT_CONFIG_FILE
from config.paths import ROOT
from todo_devstack.launch import python_path
from todo_devstack.registry import CONFIG_VARIABLE, load_registry

URL_LINE = re.compile(r"^Todo app: (http://127\.0\.0\.1:\d+/)", re.MULTILINE)
# Printed before the URL line: the local issuer's demo user.
SIGN_IN_LINE = re.compile(r"^\[devstack\] sign in as (\S+) / (\S+)", re.MULTILINE)


@dataclass
class Stack:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    services: list[str]
    demo_email: str = ""
    demo_password: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_devstack(tmp_path: Path) -> Iterator[Stack]:
    """The stack with its data in ``tmp_path``, stopped (SIGTERM, then SIGKILL) on exit."""
    log = tmp_path / "devstack.log"
    registry = DEFAULT_CONFIG_FILE
    env = {
        **os.environ,
        "PYTHONPATH": python_path(ROOT / "services"),
        CONFIG_VARIABLE: str(registry),
    }
    env.pop("DATABASE_URL", None)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "todo_devstack", "--port", "0", "--data-dir", str(tmp_path)],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    services = list(load_registry(registry).services)
    running = Stack(url="", process=process, log=log, services=services)
    try:
        deadline = time.monotonic() + 90
        while not (match := URL_LINE.search(running.output())):
            assert process.poll() is None, f"the stack exited:\n{running.output()[-4000:]}"
            assert time.monotonic() < deadline, f"no URL in 90 s:\n{running.output()[-4000:]}"
            time.sleep(0.2)
        running.url = match.group(1)
        demo = SIGN_IN_LINE.search(running.output())
        assert demo, f"no demo user printed:\n{running.output()[-4000:]}"
        running.demo_email, running.demo_password = demo.groups()
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
