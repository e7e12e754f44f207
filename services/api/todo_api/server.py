"""Start-up and graceful shutdown.

Migrates the database, binds the socket, logs the URL and serves with
uvicorn until SIGTERM or SIGINT. Then uvicorn stops accepting, lets
in-flight requests finish for at most
``API_SHUTDOWN_TIMEOUT_SECONDS``, the lifespan closes the pool, and the
process exits 0.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import signal
import socket
from types import FrameType

import uvicorn

from todo_api.app import create_app
from todo_api.settings import ApiSettings
from todo_common.logs import configure_logging
from todo_common.migrate import start_database
from todo_common.tracing import configure_tracing, shutdown_tracing

log = logging.getLogger("todo_api")


def bind(host: str, port: int) -> socket.socket:
    """Bind and listen before serving: the logged URL has the real port (port 0
    works) and accepts connections from the moment it is logged."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if ipaddress.ip_address(host).is_unspecified else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _note_signal(signum: int, _frame: FrameType | None) -> None:
    # uvicorn re-raises the signal it shut down for once it is done; this
    # handler receives it, so the process ends with 0 instead of dying by it.
    log.info("stopped by %s", signal.Signals(signum).name)


def serve(settings: ApiSettings) -> int:
    """Migrate, bind and serve until SIGTERM/SIGINT; the process's exit code."""
    configure_logging(settings.log_level, settings.service_name)
    configure_tracing(settings)

    engine = start_database(settings)
    if engine is None:
        return 1

    try:
        sock = bind(settings.api_host, settings.api_port)
    except OSError as error:
        log.error("cannot start: bind %s:%s: %s", settings.api_host, settings.api_port, error)
        return 1

    config = uvicorn.Config(
        create_app(settings, engine),
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
        timeout_keep_alive=settings.api_keepalive_timeout_seconds,
        timeout_graceful_shutdown=settings.api_shutdown_timeout_seconds,
    )
    server = uvicorn.Server(config)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _note_signal)
    url = url_of(sock)
    log.info("Todo API listening on %s (docs: %s/api/docs)", url, url, extra={"url": url})
    # What start-up built (the app, its schemas, the models, the modules) lives as long as the
    # process: out of the collector's way, a full collection no longer walks all of it. Those
    # walks were the API's tail at low load: p99 of a create 30 ms at 4 connections, 6 ms
    # without them (make bench-api --connections 4; docs/performance.md).
    gc.collect()  # what start-up left as garbage is not kept forever
    gc.freeze()
    try:
        server.run(sockets=[sock])
    finally:
        shutdown_tracing()
    return 0 if server.started else 1
