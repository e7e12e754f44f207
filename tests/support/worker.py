"""The queue worker as the service tests run it: on a test database and a moto queue."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tests.support.databases import Database
from todo_common.uow import UnitOfWorkFactory
from todo_devstack.sqs import REGION
from todo_devstack.sqs import client as sqs_client
from todo_worker.settings import WorkerSettings
from todo_worker.worker import Worker


def worker_settings(db: Database, endpoint: str, queue_url: str, **extra: Any) -> WorkerSettings:
    """``db``'s database, ``queue_url`` on moto at ``endpoint``, no waits; ``extra`` overrides."""
    base = db.settings.model_dump(include={"database_url", "database_schema", "data_dir"})
    return WorkerSettings.model_validate(
        {
            **base,
            "queue_url": queue_url,
            "sqs_endpoint_url": endpoint,
            "aws_region": REGION,
            "worker_wait_time_seconds": 0,
            "worker_retry_delay_seconds": 0,
            "worker_heartbeat_file": Path(tempfile.mkdtemp()) / "heartbeat",
            **extra,
        }
    )


def worker_on(db: Database, endpoint: str, queue_url: str) -> Worker:
    """One receive loop of the worker on ``queue_url``."""
    settings = worker_settings(db, endpoint, queue_url)
    uows = UnitOfWorkFactory(db.engine)
    return Worker(uows, sqs_client(endpoint), settings)
