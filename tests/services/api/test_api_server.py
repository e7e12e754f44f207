"""Start-up of the API process (todo_api.server)."""

from __future__ import annotations

import gc
import signal
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from todo_api import server
from todo_api.settings import ApiSettings
from todo_common.migrate import start_database as start_database_for_real


def test_serve_moves_what_start_up_built_out_of_the_collectors_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    frozen_when_serving: list[int] = []

    def run(_server: uvicorn.Server, sockets: Any = None) -> None:
        frozen_when_serving.append(gc.get_freeze_count())
        for sock in sockets or ():
            sock.close()

    engines: list[Engine] = []

    def start_database(settings: ApiSettings) -> Engine | None:
        engine = start_database_for_real(settings)
        engines.extend([engine] if engine is not None else [])
        return engine

    # Only the start-up path under test: this process's logging, tracing provider (the session's
    # in-memory exporter) and signal handlers stay as the other tests need them.
    for name in ("configure_logging", "configure_tracing", "shutdown_tracing"):
        monkeypatch.setattr(server, name, lambda *_args, **_kwargs: None)
    monkeypatch.setattr(signal, "signal", lambda *_args: None)
    monkeypatch.setattr(server, "start_database", start_database)
    monkeypatch.setattr(uvicorn.Server, "run", run)
    gc.unfreeze()
    try:
        settings = ApiSettings(data_dir=tmp_path, api_host="127.0.0.1", api_port=0)
        server.serve(settings)
    finally:
        gc.unfreeze()
        for engine in engines:
            engine.dispose()

    # The app, its routes and schemas and every module loaded: tens of thousands of objects.
    assert frozen_when_serving and frozen_when_serving[0] > 10_000
