"""``python -m todo_devstack`` (``make dev``): the whole app on one local origin.

The services are not listed here: they are the registry's, the ``[services.<name>]`` tables
of ``config/environments.toml`` (or of the file ``DELIVERY_CONFIG`` names; see
:mod:`todo_devstack.registry`). Starts, each in its own process group:

1. moto's server, the local SNS and SQS endpoint, holding the event topology the infra
   builds in AWS (:mod:`todo_devstack.topology`): one topic and, per consumer, a queue and
   its DLQ (redrive after ``maxReceiveCount`` 4) subscribed with raw delivery and a filter
   on the body's ``type`` for the events it ``consumes``;
2. the local identity provider (:mod:`todo_devstack.issuer`, a stand-in for Cognito's
   managed login, on a free port; users kept in ``<data dir>/issuer/``), with a demo user
   whose email and password it prints;
3. every registered service, by its image's start command (the exec-form ``CMD`` of
   ``services/<name>/Dockerfile``), with the environment the infra gives its container:
   ``SERVICE_NAME`` (``<project>-<name>``), ``EVENTS_TOPIC_ARN`` if it publishes events,
   ``QUEUE_URL`` (its own queue) if it is a consumer, ``<NAME>_HOST``/``<NAME>_PORT`` (a free
   port) if it is the http service, plus its own local settings from the optional
   ``services/<name>/devstack.env`` (:mod:`todo_devstack.launch`). The http service is
   started first and waited for on its ``health_check_path``; it also gets the token
   settings ``AUTH_ISSUER``, ``AUTH_CLIENT_ID`` and ``AUTH_JWKS_URL`` of the local issuer;
4. ``vite preview`` serving the built web app (``services/web/dist``), proxying ``/api`` to
   the one http service and ``/config.json`` (the app's runtime config, which the infra
   writes into the site bucket in AWS) to the issuer: one origin, as behind CloudFront.

``PYTHONPATH`` is every ``services/*/`` folder holding a package. Then prints one line,
``Todo app: http://127.0.0.1:<port>/``. SIGINT (Ctrl-C) or SIGTERM stops the children in
reverse order (SIGTERM to each group, then SIGKILL after a bound) and exits 0. If a child
dies, the others are stopped and the exit code is 1. A registry or service folder it cannot
use ends it at once with one line and exit code 2.

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

from todo_devstack.issuer import CLIENT_ID, DEMO_EMAIL, DEMO_PASSWORD
from todo_devstack.launch import LaunchError, dockerfile_command, local_settings, python_path
from todo_devstack.registry import (
    Registry,
    RegistryError,
    ServiceSpec,
    load_registry,
    registry_file,
)
from todo_devstack.sqs import LOCAL_CREDENTIALS, REGION, free_port, start_moto, wait_http
from todo_devstack.sqs import client as sqs_client
from todo_devstack.topology import Topology, create_topology, sns_client

# The services are packaged on their own (no config/ in their images), so the dev stack finds
# the checkout from its own place in it: services/devstack/todo_devstack/.
ROOT = Path(__file__).resolve().parents[3]
SERVICES = ROOT / "services"
WEB = SERVICES / "web"
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


Plan = list[tuple[ServiceSpec, list[str]]]


def _ordered(registry: Registry) -> list[ServiceSpec]:
    """The http service first: the consumers' events come from its requests."""
    return sorted(registry.services.values(), key=lambda spec: spec.kind != "http")


def plan_services(path: Path) -> tuple[Registry, Plan]:
    """The registry in ``path`` and each service's start command; raises before anything
    starts if either cannot be used."""
    registry = load_registry(path)
    http = registry.of_kind("http")
    if len(http) != 1:
        raise RegistryError(
            f"{path}: the dev stack proxies /api to one http service; the registry has {len(http)}"
        )
    plan = [
        (spec, dockerfile_command(SERVICES / spec.name / "Dockerfile"))
        for spec in _ordered(registry)
    ]
    return registry, plan


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    vite = WEB / "node_modules" / ".bin" / "vite"
    if not (WEB / "dist" / "index.html").exists() or not vite.exists():
        print("the web app is not built: run `make web-build` (make dev does)", file=sys.stderr)
        return 2
    try:
        registry, plan = plan_services(registry_file(ROOT))
    except (RegistryError, LaunchError) as error:
        print(f"devstack: {error}", file=sys.stderr)
        return 2
    stack = Stack()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        say(f"{signal.Signals(signum).name}: stopping")
        stack.stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)

    failure: str | None = None
    try:
        failure = start(stack, args, registry, plan)
        while failure is None and not stack.stop.wait(0.5):
            failure = stack.dead_child()
    except (TimeoutError, RuntimeError, OSError) as error:
        failure = str(error)
    if failure:
        say(f"failed: {failure}")
    clean = stack.shutdown()
    say("stopped")
    return 1 if failure or not clean else 0


def start_issuer(stack: Stack, data_dir: Path, app_origin: str) -> str:
    """The local identity provider (:mod:`todo_devstack.issuer`); its URL, once it answers."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "todo_devstack.issuer", "--port", str(port)]
    argv += ["--app-origin", app_origin, "--data-dir", str(data_dir)]
    env = {**os.environ, "PYTHONPATH": python_path(SERVICES), "PYTHONUNBUFFERED": "1"}
    process = stack.spawn("issuer", argv, env)
    wait_http(f"{issuer}/.well-known/openid-configuration", START_TIMEOUT_SECONDS, process)
    say(f"sign-in (local issuer) on {issuer}: users in {data_dir / 'issuer'}")
    return issuer


def auth_environment(issuer: str) -> dict[str, str]:
    """The API's token settings (docs/auth.md), pointed at the local issuer."""
    return {
        "AUTH_ISSUER": issuer,
        "AUTH_CLIENT_ID": CLIENT_ID,
        "AUTH_JWKS_URL": f"{issuer}/.well-known/jwks.json",
    }


def start(stack: Stack, args: argparse.Namespace, registry: Registry, plan: Plan) -> str | None:
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    moto_port = free_port()
    stack.children.append(("moto", start_moto(moto_port)))
    endpoint = f"http://127.0.0.1:{moto_port}"
    topology = create_topology(
        sns_client(endpoint), sqs_client(endpoint), registry.project, registry.consumers()
    )
    queues = ", ".join(f"{name} {q.url.rsplit('/', 1)[-1]}" for name, q in topology.queues.items())
    say(f"SNS+SQS (moto) on {endpoint}: topic {topology.topic_arn}; queues {queues or 'none'}")
    # The web port before the issuer: the app's origin is where the issuer redirects back to.
    web_port = args.port or free_port()
    issuer = start_issuer(stack, data_dir, f"http://127.0.0.1:{web_port}")
    if stack.stop.is_set():
        return None

    env = {
        **os.environ,
        **LOCAL_CREDENTIALS,
        "PYTHONPATH": python_path(SERVICES),
        "PYTHONUNBUFFERED": "1",
        "AWS_REGION": REGION,
        "SNS_ENDPOINT_URL": endpoint,
        "SQS_ENDPOINT_URL": endpoint,
        "DATA_DIR": str(data_dir),
    }
    api_port = 0
    for spec, argv in plan:
        service_env = {**env, **service_environment(registry, spec, topology)}
        service_env |= local_settings(SERVICES / spec.name, data_dir=data_dir)
        if spec.kind == "http":
            service_env |= auth_environment(issuer)
            api_port = free_port()
            # As the platform names them: <NAME>_PORT (infra/services/service.py), and the
            # loopback address rather than the container's 0.0.0.0.
            prefix = spec.name.upper()
            service_env |= {f"{prefix}_HOST": "127.0.0.1", f"{prefix}_PORT": str(api_port)}
        process = stack.spawn(spec.name, argv, service_env)
        if spec.kind == "http":
            health = f"http://127.0.0.1:{api_port}{spec.health_check_path}"
            wait_http(health, START_TIMEOUT_SECONDS, process)
        if stack.stop.is_set():
            return None
    return start_web(stack, web_port, api_port, issuer)


def service_environment(
    registry: Registry, spec: ServiceSpec, topology: Topology
) -> dict[str, str]:
    """What the infra gives the service's container, pointed at the local topology."""
    env = {"SERVICE_NAME": registry.service_name(spec.name)}
    if spec.publishes_events:
        env["EVENTS_TOPIC_ARN"] = topology.topic_arn
    if spec.kind == "consumer":
        env["QUEUE_URL"] = topology.queues[spec.name].url
    return env


def start_web(stack: Stack, port: int, api_port: int, issuer: str) -> str | None:
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
        {
            **os.environ,
            "API_PROXY_TARGET": f"http://127.0.0.1:{api_port}",
            # /config.json on the app's origin, as the infra's file is in the site bucket.
            "RUNTIME_CONFIG_URL": f"{issuer}/devstack/config.json",
        },
        cwd=WEB,
    )
    url = f"http://127.0.0.1:{port}/"
    wait_http(url, START_TIMEOUT_SECONDS, web)
    wait_http(f"{url}api/health", START_TIMEOUT_SECONDS, web)
    say(f"sign in as {DEMO_EMAIL} / {DEMO_PASSWORD} (or create an account on the sign-in page)")
    print(f"Todo app: {url}  (API: {url}api, docs: {url}api/docs). Ctrl-C stops it.", flush=True)
    return None


if __name__ == "__main__":
    sys.exit(main())
