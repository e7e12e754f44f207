"""Start-up of the API process (todo_api.server)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from todo_api import server
from todo_api.settings import ApiSettings


def test_serve_moves_what_start_up_built_out_of_the_collectors_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    frozen_when_serving: list[int] = []

    def run(_server: uvicorn.Server, sockets: Any = None) -> None:
        frozen_when_serving.append(gc.get_freeze_count())
        for sock in sockets or ():
            sock.close()

    monkeypatch.setattr(server, "configure_logging", lambda *_args, **_kwargs: None)
    monkeypatch.setattr(uvicorn.Server, "run", run)
    gc.unfreeze()
    try:
        settings = ApiSettings(data_dir=tmp_path, api_host="127.0.0.1", api_port=0)
        server.serve(settings)
    finally:
        gc.unfreeze()

    # The app, its routes and schemas and every module loaded: tens of thousands of objects.
    assert frozen_when_serving and frozen_when_serving[0] > 10_000
