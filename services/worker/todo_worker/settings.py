"""The worker's settings: the shared ones plus the queue consumer's."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from todo_common.settings import CommonSettings
from todo_worker.health import DEFAULT_HEARTBEAT_FILE, DEFAULT_MAX_AGE_SECONDS


class WorkerSettings(CommonSettings):
    service_name: str = Field(default="todo-worker", min_length=1, max_length=64)
    # Required: the queue to consume.
    queue_url: str = Field(min_length=1, max_length=2048)

    # Long poll: a receive waits up to this long for a message.
    worker_wait_time_seconds: int = Field(default=20, ge=0, le=20)
    # A receive is one batch: one transaction, one DeleteMessageBatch. 10 is SQS's most.
    worker_max_messages: int = Field(default=10, ge=1, le=10)
    # Receive loops (threads) in the process, each with its batch in hand: their SQS and
    # database round trips overlap. Each holds a database connection while it records.
    worker_concurrency: int = Field(default=4, ge=1, le=32)
    # How long a received message stays invisible to others while processed.
    worker_visibility_timeout_seconds: int = Field(default=30, ge=1, le=43_200)
    # After a failure the message becomes visible again this much later (not
    # the full visibility timeout); the redrive policy's maxReceiveCount then
    # moves it to the DLQ.
    worker_retry_delay_seconds: int = Field(default=5, ge=0, le=43_200)
    # SIGTERM: stop receiving, finish the batch in hand for at most this long.
    worker_shutdown_timeout_seconds: float = Field(default=20.0, ge=0, le=3600)
    worker_heartbeat_file: Path = DEFAULT_HEARTBEAT_FILE
    # python -m todo_worker.health fails once the heartbeat is older than this.
    worker_heartbeat_max_age_seconds: int = Field(default=DEFAULT_MAX_AGE_SECONDS, ge=5, le=3600)

    @model_validator(mode="after")
    def _a_connection_per_loop(self) -> Self:
        # A loop short of a connection would wait the pool timeout, then fail its batch.
        if self.worker_concurrency > self.database_pool_size + self.database_max_overflow:
            raise ValueError(
                "WORKER_CONCURRENCY: more receive loops than database connections "
                "(DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW)"
            )
        return self
