"""The API's settings: the shared ones plus the HTTP server's."""

from __future__ import annotations

from pydantic import Field

from todo_common.settings import CommonSettings


class ApiSettings(CommonSettings):
    service_name: str = Field(default="todo-api", min_length=1, max_length=64)

    api_host: str = Field(default="127.0.0.1", min_length=1, max_length=253)
    api_port: int = Field(default=8000, ge=0, le=65535)
    # SIGTERM: stop accepting, let in-flight requests finish for at most this
    # long, close the pool, exit 0. Keep it below the ECS task's stopTimeout.
    api_shutdown_timeout_seconds: int = Field(default=20, ge=0, le=3600)
    # Longer than the load balancer's idle timeout (60 s on an ALB), so the
    # server never closes a connection the balancer is about to reuse.
    api_keepalive_timeout_seconds: int = Field(default=65, ge=1, le=4000)
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)

    # The outbox relay (runs in the API process when EVENTS_TOPIC_ARN is set).
    relay_batch_size: int = Field(default=10, ge=1, le=10)
    # Idle poll for pending events; a commit that adds events wakes it at once.
    relay_poll_interval_seconds: float = Field(default=2.0, gt=0, le=300)
    # After SNS errors: exponential backoff with full jitter, capped here.
    relay_max_backoff_seconds: float = Field(default=30.0, gt=0, le=900)
    # Published events are kept this long (for replays and audits), then deleted.
    outbox_retention_hours: int = Field(default=7 * 24, ge=1, le=90 * 24)
    # CloudWatch namespace of the outbox backlog metrics (the stage sets <project>/<env>).
    metrics_namespace: str = Field(default="Todo", pattern=r"^[A-Za-z0-9._/#:-]{1,255}$")
