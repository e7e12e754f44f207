"""Typed settings read from the environment.

Every service builds its own subclass of :class:`CommonSettings` and loads it
with :func:`load_settings`, which turns a validation failure into one line
naming the offending variable (the process then exits non-zero at start).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
TracingExporter = Literal["none", "console", "otlp"]

_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[\w-]{1,256}$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_URL_SCHEMES = ("sqlite", "postgresql", "postgres")


class CommonSettings(BaseSettings):
    """Settings every Todo service shares: database, logging."""

    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, validate_default=True
    )

    service_name: str = Field(default="todo", min_length=1, max_length=64)
    log_level: LogLevel = "INFO"

    # Where the database is. With neither DATABASE_URL nor DATABASE_SECRET_ARN
    # the embedded SQLite file DATA_DIR/todo.sqlite3 is used (local development).
    database_url: str | None = Field(default=None, repr=False)
    database_secret_arn: str | None = None
    database_host: str | None = Field(default=None, min_length=1, max_length=253)
    database_port: int | None = Field(default=None, ge=1, le=65535)
    database_name: str | None = Field(default=None, min_length=1, max_length=63)
    database_schema: str | None = None
    database_sslmode: SslMode | None = None
    database_sslrootcert: str | None = Field(default=None, min_length=1)
    database_secret_ttl_seconds: int = Field(default=300, ge=0, le=86_400)
    data_dir: Path = Path("data")

    # A fixed pool by default: overflow connections are opened and closed per
    # burst, and a new PostgreSQL connection (TLS to the proxy) costs far more
    # than waiting for a pooled one. The API also runs at most pool size + overflow
    # units of work at once, so a request never waits in the pool (todo_api.database).
    database_pool_size: int = Field(default=10, ge=1, le=100)
    database_max_overflow: int = Field(default=0, ge=0, le=100)
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    database_pool_recycle_seconds: int = Field(default=1800, ge=-1, le=86_400)
    database_connect_timeout_seconds: int = Field(default=5, ge=1, le=120)
    # 0: the server's (or the role's) setting. Sent as a startup option, which
    # RDS Proxy refuses: behind the proxy set it on the role instead.
    database_statement_timeout_ms: int = Field(default=0, ge=0, le=3_600_000)
    database_migrate: bool = True

    # Events fan out through one SNS topic: a service that publishes (the API's outbox relay,
    # started when EVENTS_TOPIC_ARN is set) sends each event to it once; each consumer (the
    # worker) reads its own SQS queue, QUEUE_URL, subscribed to the topic. The *_ENDPOINT_URL
    # settings are for the local moto server only. The regions default to the ones in the
    # topic ARN and the queue URL.
    events_topic_arn: str | None = Field(default=None, min_length=1, max_length=2048)
    queue_url: str | None = Field(default=None, min_length=1, max_length=2048)
    sns_endpoint_url: str | None = Field(default=None, min_length=1, max_length=2048)
    sqs_endpoint_url: str | None = Field(default=None, min_length=1, max_length=2048)
    aws_region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")

    # Tracing (docs/tracing.md): in AWS the task's collector sidecar listens on loopback and
    # forwards to X-Ray; locally spans go to the console or nowhere. The ratio samples new
    # traces; a trace continued from an event keeps the decision its request made.
    tracing_exporter: TracingExporter = "none"
    tracing_endpoint: str = Field(
        default="http://127.0.0.1:4318/v1/traces", pattern=r"^https?://[^\s/]+(/\S*)?$"
    )
    tracing_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("tracing_exporter", mode="before")
    @classmethod
    def _lower_exporter(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in _URL_SCHEMES or "://" not in value:
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("queue_url", "sqs_endpoint_url", "sns_endpoint_url")
    @classmethod
    def _check_http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("must be an http(s):// URL")
        return value

    @field_validator("database_secret_arn")
    @classmethod
    def _check_arn(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET_ARN.fullmatch(value):
            raise ValueError("must be a Secrets Manager secret ARN")
        return value

    @field_validator("events_topic_arn")
    @classmethod
    def _check_topic_arn(cls, value: str | None) -> str | None:
        if value is not None and not _TOPIC_ARN.fullmatch(value):
            raise ValueError("must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
        return value

    @field_validator("database_schema")
    @classmethod
    def _check_schema(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.fullmatch(value):
            raise ValueError("must be a lower-case SQL identifier")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.database_url and self.database_secret_arn:
            raise ValueError("DATABASE_URL, DATABASE_SECRET_ARN: set one of them, not both")
        if self.database_secret_arn and (
            self.database_statement_timeout_ms or self.database_schema
        ):
            # A secret means RDS Proxy, which refuses connections that carry
            # startup options (FATAL: feature not supported).
            raise ValueError(
                "DATABASE_STATEMENT_TIMEOUT_MS, DATABASE_SCHEMA: not supported with "
                "DATABASE_SECRET_ARN (RDS Proxy refuses startup options); "
                "set them on the database role"
            )
        return self

    @property
    def queue_region(self) -> str:
        """AWS_REGION, else the region in an SQS queue URL, else us-east-1 (moto)."""
        if self.aws_region:
            return self.aws_region
        match = re.match(r"https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com", self.queue_url or "")
        return match.group(1) if match else "us-east-1"

    @property
    def topic_region(self) -> str:
        """AWS_REGION, else the region in EVENTS_TOPIC_ARN, else us-east-1 (moto)."""
        if self.aws_region:
            return self.aws_region
        match = _TOPIC_ARN.fullmatch(self.events_topic_arn or "")
        return match.group(1) if match else "us-east-1"

    @property
    def secret_region(self) -> str | None:
        """The region named in DATABASE_SECRET_ARN (the client must call that region)."""
        if self.database_secret_arn is None:
            return None
        return self.database_secret_arn.split(":")[3]


class SettingsError(Exception):
    """An invalid setting; ``str(error)`` is one line naming the variable(s)."""


S = TypeVar("S", bound=BaseSettings)


def describe_validation_error(error: ValidationError) -> str:
    """One line: ``invalid setting API_PORT: Input should be ...; ...``."""
    parts: list[str] = []
    for item in error.errors(include_url=False, include_input=False):
        names = [str(part) for part in item["loc"]]
        message = str(item["msg"]).removeprefix("Value error, ")
        if names:
            parts.append(f"{names[0].upper()}: {message}")
        else:
            parts.append(message)
    return "invalid setting " + "; ".join(parts)


def load_settings(cls: type[S]) -> S:
    """Read ``cls`` from the environment or raise :class:`SettingsError`."""
    try:
        return cls()
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
