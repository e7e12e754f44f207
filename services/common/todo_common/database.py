"""Engine creation: where the database is, how to reach it, and its pool.

Three sources, in order of precedence:

* ``DATABASE_URL``: any ``postgresql://`` (psycopg 3) or ``sqlite://`` URL.
* ``DATABASE_SECRET_ARN``: a Secrets Manager secret in the shape RDS writes
  (``{"username", "password", "host", "port", "dbname", "engine"}``). The
  credentials are read when a connection is opened and cached for
  ``DATABASE_SECRET_TTL_SECONDS``, so a rotated password is picked up without a
  restart. ``DATABASE_HOST`` points at the RDS Proxy endpoint (the secret names
  the cluster), and TLS defaults to ``verify-full`` against the operating
  system's CA bundle (:func:`system_ca_file`).
* neither: the embedded SQLite file ``DATA_DIR/todo.sqlite3``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from weakref import WeakKeyDictionary

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_only

from todo_common.settings import CommonSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

SQLITE_FILE = "todo.sqlite3"
# Execution option set on a write unit of work's connection: SQLite then opens
# the transaction with BEGIN IMMEDIATE (take the write lock up front instead of
# failing to upgrade a read lock under concurrency).
WRITE_OPTION = "todo_common_write"
# What libpq calls sslrootcert=system, and what DATABASE_SSLROOTCERT may say for it.
SYSTEM_CA = "system"
# Where the operating systems we run on keep their CA bundle, should Python's own OpenSSL
# name none that exists: Debian/Ubuntu/Alpine, then RHEL/Amazon Linux.
OS_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


class SecretsClient(Protocol):
    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]: ...  # noqa: N803


class DatabaseConfigError(Exception):
    """The configured database cannot be used (bad secret, unknown engine...)."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    host: str
    port: int
    dbname: str | None


def parse_rds_secret(secret_string: str) -> Credentials:
    """Parse the JSON secret RDS writes for a database user."""
    try:
        data = json.loads(secret_string)
    except json.JSONDecodeError:
        raise DatabaseConfigError("database secret is not JSON") from None
    if not isinstance(data, dict):
        raise DatabaseConfigError("database secret is not a JSON object")
    engine = str(data.get("engine", "postgres")).lower()
    if engine not in {"postgres", "postgresql", "aurora-postgresql"}:
        raise DatabaseConfigError(f"database secret engine {engine!r} is not PostgreSQL")
    missing = [key for key in ("username", "password", "host") if not data.get(key)]
    if missing:
        raise DatabaseConfigError("database secret lacks " + ", ".join(missing))
    try:
        port = int(data.get("port", 5432))
    except (TypeError, ValueError):
        raise DatabaseConfigError("database secret port is not a number") from None
    dbname = data.get("dbname")
    return Credentials(
        username=str(data["username"]),
        password=str(data["password"]),
        host=str(data["host"]),
        port=port,
        dbname=str(dbname) if dbname else None,
    )


class SecretCredentials:
    """Credentials from a Secrets Manager secret, cached for ``ttl`` seconds."""

    def __init__(
        self,
        secret_arn: str,
        client_factory: Callable[[], SecretsClient],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_arn = secret_arn
        self._client_factory = client_factory
        self._client: SecretsClient | None = None
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Credentials | None = None
        self._fetched_at = 0.0

    def get(self) -> Credentials:
        with self._lock:
            expired = self._clock() - self._fetched_at >= self._ttl
            if self._cached is None or expired:
                if self._client is None:
                    self._client = self._client_factory()
                response = self._client.get_secret_value(SecretId=self.secret_arn)
                self._cached = parse_rds_secret(str(response["SecretString"]))
                self._fetched_at = self._clock()
            return self._cached


def system_ca_file(candidates: tuple[str, ...] = OS_CA_BUNDLES) -> str:
    """The operating system's CA bundle file, for libpq's ``sslrootcert``.

    libpq's ``sslrootcert=system`` means "the default trust store of the OpenSSL libpq is
    linked with". psycopg-binary's libpq is linked with the OpenSSL bundled in the wheel,
    whose default CA file (/usr/lib/psycopg-openssl/cert.pem) exists on no system, so
    "system" would verify against nothing. The OS bundle is what Python's ssl module (linked
    with the OS's OpenSSL) reports, honouring SSL_CERT_FILE like OpenSSL does.
    """
    paths = ssl.get_default_verify_paths()
    for path in (paths.cafile, *candidates):
        if path and Path(path).is_file():
            return path
    raise DatabaseConfigError(
        f"sslrootcert=system: no CA bundle at {paths.openssl_cafile} nor "
        f"{', '.join(candidates)}; install ca-certificates or set DATABASE_SSLROOTCERT"
    )


def boto3_secrets_client(region: str | None) -> Callable[[], SecretsClient]:
    def factory() -> SecretsClient:
        import boto3  # noqa: PLC0415 - only needed when a secret ARN is configured
        from botocore.config import Config  # noqa: PLC0415 - as boto3

        # Bounded: a connection waits for its credentials, and botocore's defaults (60 s to
        # connect, 60 s to read, retried) would hold it for minutes on an unreachable endpoint.
        bounded = Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 2})
        client: SecretsClient = boto3.client("secretsmanager", region_name=region, config=bounded)
        return client

    return factory


def _postgres_url(url: URL) -> URL:
    # postgres:// and postgresql:// both mean psycopg 3 here.
    return url.set(drivername="postgresql+psycopg")


def sqlite_url(data_dir: Path) -> URL:
    return URL.create("sqlite+pysqlite", database=str(data_dir / SQLITE_FILE))


def resolve_url(
    settings: CommonSettings, credentials: SecretCredentials | None = None
) -> tuple[URL, SecretCredentials | None]:
    """The URL to connect to and, for a secret, the credential provider."""
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.get_backend_name() == "sqlite":
            return url.set(drivername="sqlite+pysqlite"), None
        url = _postgres_url(url)
    elif settings.database_secret_arn:
        credentials = credentials or SecretCredentials(
            settings.database_secret_arn,
            boto3_secrets_client(settings.secret_region),
            ttl=settings.database_secret_ttl_seconds,
        )
        secret = credentials.get()
        url = URL.create(
            "postgresql+psycopg",
            username=secret.username,
            host=secret.host,
            port=secret.port,
            database=secret.dbname or "postgres",
        )
    else:
        return sqlite_url(settings.data_dir), None
    if settings.database_host:
        url = url.set(host=settings.database_host)
    if settings.database_port:
        url = url.set(port=settings.database_port)
    if settings.database_name:
        url = url.set(database=settings.database_name)
    return url, credentials


def postgres_connect_args(settings: CommonSettings, *, from_secret: bool) -> dict[str, Any]:
    """libpq parameters: timeouts, search_path, TLS, prepared statements."""
    args: dict[str, Any] = {
        "connect_timeout": settings.database_connect_timeout_seconds,
        "application_name": settings.service_name,
    }
    options = []
    if settings.database_statement_timeout_ms:
        options.append(f"-c statement_timeout={settings.database_statement_timeout_ms}")
    if settings.database_schema:
        options.append(f"-c search_path={settings.database_schema}")
    if options:
        args["options"] = " ".join(options)
    if from_secret:
        # RDS Proxy pins a client connection to one database connection once
        # it sees a named prepared statement; psycopg prepares statements it
        # has run 5 times, unless told not to.
        args["prepare_threshold"] = None
    # A secret means Aurora behind RDS Proxy: TLS, verified against the OS's CA bundle
    # (the proxy presents an ACM certificate, which chains to Amazon's public roots)
    # unless told otherwise.
    sslmode = settings.database_sslmode or ("verify-full" if from_secret else None)
    rootcert = settings.database_sslrootcert
    if sslmode:
        args["sslmode"] = sslmode
        if sslmode in {"verify-ca", "verify-full"}:
            rootcert = rootcert or SYSTEM_CA
    if rootcert:
        args["sslrootcert"] = system_ca_file() if rootcert == SYSTEM_CA else rootcert
    return args


def create_db_engine(
    settings: CommonSettings, credentials: SecretCredentials | None = None
) -> Engine:
    """An engine with a bounded pool, configured for the resolved backend."""
    url, credentials = resolve_url(settings, credentials)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, settings)
    engine = create_engine(url, **_postgres_options(settings, credentials))
    _add_credentials(engine, credentials, on_event_loop=False)
    return engine


def create_event_loop_engine(
    settings: CommonSettings, beside: Engine | None = None
) -> AsyncEngine | None:
    """For PostgreSQL, the engine of :func:`create_db_engine` on psycopg's asyncio connections:
    its work runs on an event loop, each wait for the database a pause of the loop and not of
    a thread (todo_api.database). ``beside``: an engine of :func:`create_db_engine` whose
    secret credentials (and their cache) this one shares. None for SQLite, which has no
    asyncio driver here."""
    credentials = _secret_credentials.get(beside) if beside is not None else None
    url, credentials = resolve_url(settings, credentials)
    if url.get_backend_name() == "sqlite":
        return None
    # Imported here: it needs greenlet, which only the API's image installs.
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

    engine = create_async_engine(url, **_postgres_options(settings, credentials))
    _add_credentials(engine.sync_engine, credentials, on_event_loop=True)
    return engine


def _postgres_options(
    settings: CommonSettings, credentials: SecretCredentials | None
) -> dict[str, Any]:
    return {
        "connect_args": postgres_connect_args(settings, from_secret=credentials is not None),
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout_seconds,
        "pool_recycle": settings.database_pool_recycle_seconds,
        "pool_pre_ping": True,
    }


# Each engine's secret credentials, for the engines made beside it.
_secret_credentials: WeakKeyDictionary[Engine, SecretCredentials] = WeakKeyDictionary()


def _add_credentials(
    engine: Engine, credentials: SecretCredentials | None, *, on_event_loop: bool
) -> None:
    """Every new connection logs in with the secret's current credentials.

    ``on_event_loop``: the engine's connections open in a greenlet on the event loop, where a
    call to Secrets Manager (the cached credentials expired) would stop every request until it
    answered: there the credentials are looked up in a thread, and the loop serves on."""
    if credentials is None:
        return
    _secret_credentials[engine] = credentials
    provider = credentials

    @event.listens_for(engine, "do_connect")
    def _inject_credentials(
        _dialect: Any, _record: ConnectionPoolEntry, _cargs: Any, cparams: dict[str, Any]
    ) -> None:
        try:
            if on_event_loop:
                secret: Credentials = await_only(asyncio.to_thread(provider.get))
            else:
                secret = provider.get()
        except (DatabaseConfigError, BotoCoreError, ClientError) as error:
            # As a DB-API error, SQLAlchemy reports it as an OperationalError: the services
            # answer "the database is unavailable" (a 503, not ready), not a crash (a 500).
            raise psycopg.OperationalError(f"database credentials unavailable: {error}") from error
        cparams["user"] = secret.username
        cparams["password"] = secret.password


def _sqlite_engine(url: URL, settings: CommonSettings) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    busy_ms = int(settings.database_pool_timeout_seconds * 1000)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions
        # would not cover SELECTs nor allow BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def ping(engine: Engine) -> None:
    """Round-trip to the database; raises if it does not answer."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1").scalar_one()
