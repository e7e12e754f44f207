"""API load benchmark: list and create against the real API (uvicorn +
PostgreSQL), side by side with two ceilings on the same uvicorn settings in the
same run: a bare ASGI "hello" app, and the same list and create written
minimally (bench/minimal_app.py: one SQL statement each, the same driver and
pool, no ORM, no middleware). Prints requests/s, p50 and p99, and each
scenario against both ceilings.

All three servers run at once; every scenario is measured right after its own ceiling, in
``--rounds`` rounds, and the figures are medians (a ratio is the median of the rounds' own
ratios): on a shared machine a single pass drifted by 15 % from one run to the next.

    make bench-api                      # wrk if installed, else the Python generator
    make bench-api BENCH_ARGS="--generator python --duration 5 --rounds 1"

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

    # Keep draining the logs so the server never blocks on a full pipe: in blocks, not lines,
    # so that reading the API's access lines costs the shared cores as little as it can.
    def drain() -> None:
        while os.read(stdout.fileno(), 1 << 16):
            pass

    threading.Thread(target=drain, daemon=True).start()
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


def analyze() -> None:
    """Fresh planner statistics for the seeded tables. Read while they were empty, the planner
    took one owner's todos for a handful of rows and sorted all of them for every page, a cost
    that grew with every create the run made, in the API and the minimal ceiling alike."""
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"ANALYZE {SCHEMA}.todos, {SCHEMA}.outbox")


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
@dataclass
class Pair:
    """A scenario and its ceiling, measured one right after the other in every round."""

    name: str
    path: str
    method: str
    ceiling: str
    ceiling_server: str  # a key of running_servers()
    ceiling_path: str


PAIRS = (
    Pair("GET /api/health (no DB)", "/api/health", "GET", "hello (bare ASGI)", "hello", "/"),
    Pair(LIST, "/api/todos", "GET", MINIMAL + LIST, "minimal", "/api/todos"),
    Pair(CREATE, "/api/todos", "POST", MINIMAL + CREATE, "minimal", "/api/todos"),
)


@contextmanager
def running_servers() -> Iterator[dict[str, str]]:
    """The hello ceiling, the API (signed in as one user, seeded) and the minimal ceiling on
    the API's migrated tables with the same pool size, all at once; yields each one's base URL.
    An idle server costs nothing, and measuring a scenario right next to its ceiling keeps the
    machine's drift out of the ratio."""
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
    hello_port, minimal_port = free_port(), free_port()
    api = [sys.executable, "-m", "todo_api"]
    try:
        with (
            server(uvicorn("hello_app:app", hello_port), {}, "Uvicorn running on"),
            running_issuer() as issuer,
            server(api, {**api_env, **issuer.settings}, "Todo API listening on") as line,
        ):
            AUTHORIZATION.update(issuer.headers(BENCH_USER))
            api_base = json.loads(line)["url"]
            seed(api_base, SEED_TODOS)
            analyze()
            minimal = uvicorn("minimal_app:app", minimal_port)
            with server(minimal, {**api_env, "BENCH_OWNER": BENCH_USER}, "Uvicorn running on"):
                yield {
                    "hello": f"http://127.0.0.1:{hello_port}",
                    "api": api_base,
                    "minimal": f"http://127.0.0.1:{minimal_port}",
                }
    finally:
        drop_database()


def measure(generator: Generator, args: argparse.Namespace) -> dict[str, list[Result]]:
    """Every pair, back to back, ``args.rounds`` times over; each name's results in order."""
    results: dict[str, list[Result]] = {}
    with running_servers() as base:
        warm = argparse.Namespace(**{**vars(args), "duration": 1})
        for url in (
            base["hello"] + "/",
            base["api"] + "/api/todos",
            base["minimal"] + "/api/todos",
        ):
            generator("warm-up", url, "GET", warm)
        for _ in range(args.rounds):
            for pair in PAIRS:
                ceiling_url = base["hello"] + "/" if pair.path == "/api/health" else None
                ceiling_url = ceiling_url or base["minimal"] + pair.path
                for name, url in (
                    (pair.ceiling, ceiling_url),
                    (pair.name, base["api"] + pair.path),
                ):
                    results.setdefault(name, []).append(generator(name, url, pair.method, args))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--rounds", type=int, default=3, help="each pair measured this often")
    parser.add_argument("--max-requests", type=int, default=200_000, help="python generator cap")
    args = parser.parse_args()
    if not 1 <= args.duration <= 60 or not 1 <= args.connections <= 256:
        parser.error("duration must be 1..60 s and connections 1..256")
    if not 1 <= args.rounds <= 10:
        parser.error("rounds must be 1..10")
    use_wrk = args.generator == "wrk" or (args.generator == "auto" and shutil.which("wrk"))
    generator = run_wrk if use_wrk else run_python
    label = "wrk (1 thread)" if use_wrk else "python asyncio"

    results = measure(generator, args)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"\nAPI load benchmark: {label}, {args.connections} connections, "
        f"{args.duration}s per scenario, {args.rounds} rounds (each scenario back to back with its "
        f"ceiling), loopback, {os.cpu_count()} cores shared; load average after the run: {load}"
    )
    print_table(results)
    return FAILURE if any(r.errors for rounds in results.values() for r in rounds) else SUCCESS


def print_table(results: dict[str, list[Result]]) -> None:
    """Medians over the rounds; each scenario against both ceilings, the ratio being the median
    of the rounds' own ratios (a scenario and its ceiling were measured back to back)."""
    hello = results[PAIRS[0].ceiling]  # the ceiling of everything
    header = f"{'scenario':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
    print(f"{header}{'vs hello':>10}{'vs minimal':>12}   (ratio per round)")
    ceilings = {pair.name: pair.ceiling for pair in PAIRS}
    for name, rounds in results.items():
        own = results.get(ceilings.get(name, ""))
        versus = [r.rps / c.rps for r, c in zip(rounds, own, strict=True) if c.rps] if own else []
        shown = "" if not versus or name == PAIRS[0].name else f"{statistics.median(versus):>12.1%}"
        each = "  ".join(f"{ratio:.0%}" for ratio in versus)
        print(
            f"{name:<34}{statistics.median(r.rps for r in rounds):>10.0f}"
            f"{statistics.median(r.p50_ms for r in rounds):>10.2f}"
            f"{statistics.median(r.p99_ms for r in rounds):>10.2f}"
            f"{sum(r.errors for r in rounds):>8}"
            f"{statistics.median(r.rps / h.rps for r, h in zip(rounds, hello, strict=True)):>10.1%}"
            f"{shown:>12}   {each}"
        )


if __name__ == "__main__":
    sys.exit(main())
