"""API load benchmark: list and create against the real API (uvicorn +
PostgreSQL), side by side with two ceilings on the same uvicorn settings in the
same run: a bare ASGI "hello" app, and the same list and create written
minimally (bench/minimal_app.py: one SQL statement each, the same driver and
pool, no ORM, no middleware). Prints requests/s, p50 and p99, and each
scenario against both ceilings.

    make bench-api                      # wrk if installed, else the Python generator
    make bench-api BENCH_ARGS="--generator python --duration 5"

Loopback only (127.0.0.1), every run bounded in time (and the Python
generator also in request count); the servers are stopped at the end.

Every API request carries an access token from a local issuer (tests/support/issuer.py), which
the API checks as it checks Cognito's (RS256 against the issuer's JWKS, cached): the figures
include what authentication costs.

Limits: the machine has 2 cores shared by the server, PostgreSQL and the
load generator, so the figures are a relative measure (API vs ceiling on the
same box), not a capacity plan. wrk (C, one thread) steals less CPU from the
server than the Python generator does, so its figures are higher.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from config.exit_codes import FAILURE, SUCCESS
from config.paths import ROOT

PYTHONPATH = os.pathsep.join(
    str(ROOT / part) for part in ("services/common", "services/api", "bench")
)
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "todo_bench"
SEED_TODOS = 1000
CREATE_BODY = b'{"text": "benchmark todo"}'
BENCH_USER = "bench-user"
LIST, CREATE = "GET /api/todos (50/page)", "POST /api/todos"
MINIMAL = "minimal "
# Set once the issuer runs: every request to the API sends it (health ignores it).
AUTHORIZATION: dict[str, str] = {}


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


Generator = Callable[[str, str, str, argparse.Namespace], "Result"]


# ------------------------------------------------------------------ servers
@contextmanager
def server(command: list[str], env: dict[str, str], ready: str) -> Iterator[str]:
    """Start a server subprocess; yield once a log line contains ``ready``."""
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": PYTHONPATH, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stdout = proc.stdout
    if stdout is None:
        raise RuntimeError("no stdout pipe")
    deadline = time.monotonic() + 30
    line = ""
    while ready not in line:
        line = stdout.readline()
        if (not line and proc.poll() is not None) or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{command} did not start")
    # Keep draining the logs so the server never blocks on a full pipe.
    threading.Thread(target=lambda: sum(1 for _ in stdout), daemon=True).start()
    try:
        yield line
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def uvicorn(app: str, port: int) -> list[str]:
    """A ceiling's server: uvicorn with the settings the API's server uses."""
    return [
        *(sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)),
        *("--no-access-log", "--no-server-header", "--timeout-keep-alive", "65"),
        *("--log-level", "info"),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare_database() -> None:
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")


def seed(base: str, count: int) -> None:
    async def run() -> None:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in range(count):
            writer.write(request_bytes("POST", "/api/todos", CREATE_BODY))
            await read_response(reader)
        writer.close()

    asyncio.run(run())


def drop_database() -> None:
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


# ----------------------------------------------------------- wrk generator
WRK_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(name: str, url: str, method: str, args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "request.lua"
        lines = [f'wrk.method = "{method}"']
        lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in AUTHORIZATION.items()]
        if method == "POST":
            lines += [
                f"wrk.body = '{CREATE_BODY.decode()}'",
                'wrk.headers["Content-Type"] = "application/json"',
            ]
        script.write_text("\n".join(lines) + "\n")
        command = [
            "wrk",
            "-t1",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    latency = {p: float(v) * UNIT[u] for p, v, u in WRK_LATENCY.findall(out)}
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    seconds = float(re.search(r"requests in ([\d.]+)s", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Result(name, total, errors, seconds, latency["50"], latency["99"])


# -------------------------------------------------- Python asyncio generator
def request_bytes(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in AUTHORIZATION.items())
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    if match:
        await reader.readexactly(int(match.group(1)))
    return status


def run_python(name: str, url: str, method: str, args: argparse.Namespace) -> Result:
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, port = host_port.split(":")
    payload = request_bytes(method, "/" + path, CREATE_BODY if method == "POST" else b"")
    latencies: list[float] = []
    errors = 0

    async def connection(stop: float, budget: list[int]) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < stop and budget[0] > 0:
                budget[0] -= 1
                started = time.perf_counter()
                writer.write(payload)
                status = await read_response(reader)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += status >= 400
        finally:
            writer.close()

    async def main() -> float:
        started = time.perf_counter()
        budget = [args.max_requests]
        stop = started + args.duration
        await asyncio.gather(*(connection(stop, budget) for _ in range(args.connections)))
        return time.perf_counter() - started

    seconds = asyncio.run(main())
    cuts = statistics.quantiles(latencies, n=100)
    return Result(name, len(latencies), errors, seconds, cuts[49], cuts[98])


# --------------------------------------------------------------------- main
def api_scenarios(generator: Generator, args: argparse.Namespace) -> list[Result]:
    """Health, list and create on the real API, signed in as one user."""
    # Needs services/devstack on the path, as make bench-api sets it.
    from tests.support.issuer import running_issuer  # noqa: PLC0415

    prepare_database()
    api_env = {
        "DATABASE_URL": POSTGRES,
        "DATABASE_SCHEMA": SCHEMA,
        "API_PORT": "0",
        "DATABASE_POOL_SIZE": "10",
        "LOG_LEVEL": "INFO",
    }
    try:
        api = [sys.executable, "-m", "todo_api"]
        with (
            running_issuer() as issuer,
            server(api, {**api_env, **issuer.settings}, "Todo API listening on") as line,
        ):
            AUTHORIZATION.update(issuer.headers(BENCH_USER))
            base = json.loads(line)["url"]
            seed(base, SEED_TODOS)
            warm = argparse.Namespace(**{**vars(args), "duration": 1})
            generator("warm-up", base + "/api/todos", "GET", warm)
            results = [
                # Framework and middleware alone (no database), for reading the ratio.
                generator("GET /api/health (no DB)", base + "/api/health", "GET", args),
                generator(LIST, base + "/api/todos", "GET", args),
                generator(CREATE, base + "/api/todos", "POST", args),
            ]
        # The second ceiling on the tables the API migrated and seeded, the same pool size.
        return results + minimal_scenarios(generator, args, api_env)
    finally:
        drop_database()


def minimal_scenarios(
    generator: Generator, args: argparse.Namespace, api_env: dict[str, str]
) -> list[Result]:
    """List and create as one SQL statement each (bench/minimal_app.py), same uvicorn."""
    port = free_port()
    with server(uvicorn("minimal_app:app", port), api_env, "Uvicorn running on"):
        base = f"http://127.0.0.1:{port}"
        warm = argparse.Namespace(**{**vars(args), "duration": 1})
        generator("warm-up", base + "/api/todos", "GET", warm)
        return [
            generator(MINIMAL + LIST, base + "/api/todos", "GET", args),
            generator(MINIMAL + CREATE, base + "/api/todos", "POST", args),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--max-requests", type=int, default=200_000, help="python generator cap")
    args = parser.parse_args()
    if not 1 <= args.duration <= 60 or not 1 <= args.connections <= 256:
        parser.error("duration must be 1..60 s and connections 1..256")
    use_wrk = args.generator == "wrk" or (args.generator == "auto" and shutil.which("wrk"))
    generator = run_wrk if use_wrk else run_python
    label = "wrk (1 thread)" if use_wrk else "python asyncio"

    results: list[Result] = []
    hello_port = free_port()
    with server(uvicorn("hello_app:app", hello_port), {}, "Uvicorn running on"):
        base = f"http://127.0.0.1:{hello_port}"
        generator("warm-up", base + "/", "GET", argparse.Namespace(**{**vars(args), "duration": 1}))
        results.append(generator("hello (bare ASGI)", base + "/", "GET", args))

    results += api_scenarios(generator, args)

    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"\nAPI load benchmark: {label}, {args.connections} connections, "
        f"{args.duration}s per scenario, loopback, {os.cpu_count()} cores shared; "
        f"load average after the run: {load}"
    )
    print_table(results)
    return FAILURE if any(result.errors for result in results) else SUCCESS


def print_table(results: list[Result]) -> None:
    """Each scenario against both ceilings: the bare ASGI hello, and the minimal
    implementation of the same request (list or create)."""
    hello = results[0].rps
    minimal = {r.name.removeprefix(MINIMAL): r.rps for r in results if r.name.startswith(MINIMAL)}
    header = f"{'scenario':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
    print(f"{header}{'vs hello':>10}{'vs minimal':>12}")
    for result in results:
        own = minimal.get(result.name)
        versus = f"{result.rps / own:>12.1%}" if own and not result.name.startswith(MINIMAL) else ""
        print(
            f"{result.name:<34}{result.rps:>10.0f}{result.p50_ms:>10.2f}{result.p99_ms:>10.2f}"
            f"{result.errors:>8}{result.rps / hello:>10.1%}{versus:>12}"
        )


if __name__ == "__main__":
    sys.exit(main())
