"""The API's settings: the shared ones plus the HTTP server's."""

from __future__ import annotations

import re
from ipaddress import ip_address
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from todo_common.settings import CommonSettings

LOOPBACK_HOSTS = frozenset({"localhost"})
_CLIENT_ID = re.compile(r"[\w+]{1,128}")


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_auth_url(value: str) -> str:
    """An https URL with a host, or http on a loopback host (the local issuer of `make dev`)."""
    parts = urlsplit(value)
    if not parts.hostname or parts.query or parts.fragment:
        raise ValueError("must be an absolute URL with a host and no query")
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return value
    raise ValueError("must be https (http only on a loopback host)")


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

    # Access tokens (todo_api.auth, docs/auth.md): required, there is no way to turn them off.
    # The issuer exactly as in the tokens' `iss`: https://cognito-idp.<region>.amazonaws.com/<pool>
    auth_issuer: str = Field(min_length=1, max_length=2048)
    # The app clients whose tokens are accepted, comma-separated: the web app's, and in the
    # environments whose post-deploy checks sign in, the checks' own (infra/auth).
    auth_client_id: str = Field(min_length=1, max_length=5 * 129)
    auth_jwks_url: str | None = Field(default=None, max_length=2048)
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300)

    @field_validator("auth_client_id")
    @classmethod
    def _check_client_ids(cls, value: str) -> str:
        if not all(_CLIENT_ID.fullmatch(client) for client in value.split(",")):
            raise ValueError("must be app client ids (letters, digits, _ or +), comma-separated")
        return value

    @field_validator("auth_issuer", "auth_jwks_url")
    @classmethod
    def _check_auth_url(cls, value: str | None) -> str | None:
        return None if value is None else check_auth_url(value)

    @property
    def client_ids(self) -> frozenset[str]:
        return frozenset(self.auth_client_id.split(","))

    @property
    def jwks_url(self) -> str:
        """Where the signing keys are; Cognito (and the local issuer) publish them beside the
        issuer."""
        return self.auth_jwks_url or f"{self.auth_issuer.rstrip('/')}/.well-known/jwks.json"
