"""``python -m todo_devstack`` (``make dev``): the whole app on one local origin.

Starts, each in its own process group:

1. moto's server as the local SQS endpoint, with the queue and its DLQ joined
   by the same redrive policy as in AWS (``maxReceiveCount`` 4);
2. the API (``python -m todo_api``) with ``QUEUE_URL`` set, so its outbox
   relay publishes to that queue;
3. the worker (``python -m todo_worker``);
4. ``vite preview`` serving the built web app (``services/web/dist``) and
   proxying ``/api`` to the API: one origin, as behind CloudFront.

Then prints one line, ``Todo app: http://127.0.0.1:<port>/``. SIGINT (Ctrl-C)
or SIGTERM stops the children in reverse order (SIGTERM to each group, then
SIGKILL after a bound) and exits 0. If a child dies, the others are stopped
and the exit code is 1.

Embedded defaults: SQLite under ``DEV_DATA_DIR`` (``data/dev``) unless
``DATABASE_URL`` is set; ``DEV_PORT`` (8080; 0 picks a free port).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from todo_devstack.sqs import (
    LOCAL_CREDENTIALS,
    REGION,
    create_queues,
    free_port,
    start_moto,
    wait_http,
)
from todo_devstack.sqs import client as sqs_client

# The services are packaged on their own (no config/ in their images), so the dev stack finds
# the checkout from its own place in it: services/devstack/todo_devstack/.
ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "services" / "web"
PYTHONPATH = os.pathsep.join(
    str(ROOT / "services" / name) for name in ("common", "api", "worker", "devstack")
)
STOP_TIMEOUT_SECONDS = 25.0
START_TIMEOUT_SECONDS = 60.0


def say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


class Stack:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stop = threading.Event()

    def spawn(
        self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path = ROOT
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(  # noqa: S603 - our own commands
            list(argv), env=env, cwd=cwd, start_new_session=True
        )
        self.children.append((name, process))
        return process

    def dead_child(self) -> str | None:
        for name, process in self.children:
            if process.poll() is not None:
                return f"{name} exited with {process.returncode}"
        return None

    def shutdown(self) -> bool:
        """Stop every child, newest first; True if all ended on SIGTERM."""
        clean = True
        for name, process in reversed(self.children):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    say(f"{name} did not stop in {STOP_TIMEOUT_SECONDS:.0f} s: killed")
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    clean = False
            say(f"{name} stopped ({process.returncode})")
        return clean


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m todo_devstack", description=__doc__)
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("DEV_PORT") or 8080), help="0: any"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("DEV_DATA_DIR") or "data/dev")
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    vite = WEB / "node_modules" / ".bin" / "vite"
    if not (WEB / "dist" / "index.html").exists() or not vite.exists():
        print("the web app is not built: run `make web-build` (make dev does)", file=sys.stderr)
        return 2
    stack = Stack()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        say(f"{signal.Signals(signum).name}: stopping")
        stack.stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)

    failure: str | None = None
    try:
        failure = start(stack, args)
        while failure is None and not stack.stop.wait(0.5):
            failure = stack.dead_child()
    except (TimeoutError, RuntimeError, OSError) as error:
        failure = str(error)
    if failure:
        say(f"failed: {failure}")
    clean = stack.shutdown()
    say("stopped")
    return 1 if failure or not clean else 0


def start(stack: Stack, args: argparse.Namespace) -> str | None:
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    sqs_port = free_port()
    stack.children.append(("sqs (moto)", start_moto(sqs_port)))
    endpoint = f"http://127.0.0.1:{sqs_port}"
    queues = create_queues(sqs_client(endpoint), "todo-events")
    say(f"SQS (moto) on {endpoint}: todo-events, DLQ todo-events-dlq after 4 receives")
    if stack.stop.is_set():
        return None

    env = {
        **os.environ,
        **LOCAL_CREDENTIALS,
        "PYTHONPATH": PYTHONPATH,
        "PYTHONUNBUFFERED": "1",
        "AWS_REGION": REGION,
        "QUEUE_URL": queues.url,
        "SQS_ENDPOINT_URL": endpoint,
        "DATA_DIR": str(data_dir),
    }
    api_port = free_port()
    api = stack.spawn(
        "api",
        [sys.executable, "-m", "todo_api"],
        {**env, "API_HOST": "127.0.0.1", "API_PORT": str(api_port)},
    )
    wait_http(f"http://127.0.0.1:{api_port}/api/health", START_TIMEOUT_SECONDS, api)
    stack.spawn(
        "worker",
        [sys.executable, "-m", "todo_worker"],
        {
            **env,
            "WORKER_WAIT_TIME_SECONDS": "5",
            "WORKER_RETRY_DELAY_SECONDS": "2",
            "WORKER_HEARTBEAT_FILE": str(data_dir / "worker.heartbeat"),
        },
    )
    port = args.port or free_port()
    web = stack.spawn(
        "web",
        [
            str(WEB / "node_modules" / ".bin" / "vite"),
            "preview",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--strictPort",
        ],
        {**os.environ, "API_PROXY_TARGET": f"http://127.0.0.1:{api_port}"},
        cwd=WEB,
    )
    url = f"http://127.0.0.1:{port}/"
    wait_http(url, START_TIMEOUT_SECONDS, web)
    wait_http(f"{url}api/health", START_TIMEOUT_SECONDS, web)
    print(f"Todo app: {url}  (API: {url}api, docs: {url}api/docs). Ctrl-C stops it.", flush=True)
    return None


if __name__ == "__main__":
    sys.exit(main())
