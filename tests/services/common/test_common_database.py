"""Where the database is: URL, Secrets Manager secret (RDS shape), SQLite."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.util import greenlet_spawn

from tests.support.databases import POSTGRES_URL
from todo_common.database import (
    Credentials,
    DatabaseConfigError,
    SecretCredentials,
    create_db_engine,
    create_event_loop_engine,
    parse_rds_secret,
    postgres_connect_args,
    resolve_url,
    system_ca_file,
)
from todo_common.settings import CommonSettings

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:todo/db-AbCdEf"


def rds_secret(**overrides: Any) -> str:
    secret = {
        "engine": "postgres",
        "host": "todo.cluster-abc.eu-west-1.rds.amazonaws.com",
        "port": 5432,
        "username": "todo_app",
        "password": "s3cr3t/with:odd@chars",
        "dbname": "todo",
        "dbClusterIdentifier": "todo",
    }
    secret.update(overrides)
    return json.dumps(secret)


def stubbed_client(*secret_strings: str, then_error: str | None = None) -> Any:
    """A real boto3 Secrets Manager client whose answers are stubbed (no network): the
    secrets in turn, then the error code ``then_error``, if given."""
    client = boto3.client(
        "secretsmanager",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(client)
    for secret_string in secret_strings:
        stubber.add_response(
            "get_secret_value",
            {"ARN": ARN, "Name": "todo/db", "SecretString": secret_string},
            {"SecretId": ARN},
        )
    if then_error is not None:
        stubber.add_client_error("get_secret_value", then_error)
    stubber.activate()
    return client


def local_secret(postgres_admin: Engine) -> str:
    """A secret that names the test PostgreSQL and its user."""
    local = postgres_admin.url
    secret = rds_secret(host=local.host, port=local.port, dbname=local.database, password="x")
    return json.dumps({**json.loads(secret), "username": local.username})


def test_no_url_and_no_secret_means_sqlite_under_data_dir(tmp_path: Path) -> None:
    url, credentials = resolve_url(CommonSettings(data_dir=tmp_path))
    assert url.drivername == "sqlite+pysqlite"
    assert url.database == str(tmp_path / "todo.sqlite3")
    assert credentials is None


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg2"])
def test_postgres_urls_use_psycopg_3(scheme: str) -> None:
    url, _ = resolve_url(CommonSettings(database_url=f"{scheme}://u:p@db:6543/todo"))
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.password) == ("db", 6543, "todo", "p")


def test_secret_gives_host_port_db_and_the_proxy_host_overrides() -> None:
    settings = CommonSettings(
        database_secret_arn=ARN, database_host="todo-proxy.proxy-abc.eu-west-1.rds.amazonaws.com"
    )
    provider = SecretCredentials(ARN, lambda: stubbed_client(rds_secret()), ttl=300)
    url, credentials = resolve_url(settings, provider)
    assert credentials is provider
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "todo-proxy.proxy-abc.eu-west-1.rds.amazonaws.com"
    assert (url.port, url.database, url.username) == (5432, "todo", "todo_app")
    assert url.password is None  # injected per connection, never kept in the URL


def test_secret_mode_is_fit_for_rds_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    args = postgres_connect_args(CommonSettings(database_secret_arn=ARN), from_secret=True)
    assert args["sslmode"] == "verify-full"
    # Not libpq's "system": psycopg-binary's own OpenSSL has no CA file; the OS bundle.
    assert args["sslrootcert"] == system_ca_file()
    assert Path(args["sslrootcert"]).read_text().count("BEGIN CERTIFICATE") > 50
    assert "options" not in args  # RDS Proxy refuses startup options
    assert args["prepare_threshold"] is None  # named prepared statements pin


def test_system_means_the_bundle_openssl_is_told_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    settings = CommonSettings(database_secret_arn=ARN, database_sslrootcert="system")
    assert postgres_connect_args(settings, from_secret=True)["sslrootcert"] == str(bundle)


def test_without_any_os_bundle_the_start_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(DatabaseConfigError, match=r"set DATABASE_SSLROOTCERT$"):
        system_ca_file(candidates=(str(tmp_path / "none.crt"),))
    assert system_ca_file(candidates=(str(tmp_path / "none.crt"), __file__)) == __file__


def test_statement_timeout_is_a_startup_option_for_direct_connections() -> None:
    settings = CommonSettings(
        database_url="postgresql://u@db/todo", database_statement_timeout_ms=2500
    )
    args = postgres_connect_args(settings, from_secret=False)
    assert args["options"] == "-c statement_timeout=2500"
    assert "prepare_threshold" not in args


def test_tls_settings_are_honoured_for_a_plain_url() -> None:
    settings = CommonSettings(
        database_url="postgresql://u@db/todo",
        database_sslmode="verify-ca",
        database_sslrootcert="/etc/ssl/rds-global-bundle.pem",
        database_schema="todo_app",
    )
    args = postgres_connect_args(settings, from_secret=False)
    assert args["sslmode"] == "verify-ca"
    assert args["sslrootcert"] == "/etc/ssl/rds-global-bundle.pem"
    assert "search_path=todo_app" in args["options"]
    assert "sslmode" not in postgres_connect_args(
        CommonSettings(database_url="postgresql://u@db/todo"), from_secret=False
    )


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (rds_secret(engine="mysql"), "not PostgreSQL"),
        (rds_secret(password=""), "lacks password"),
        (rds_secret(port="abc"), "port is not a number"),
    ],
)
def test_bad_secrets_are_clear_errors(secret: str, message: str) -> None:
    with pytest.raises(DatabaseConfigError, match=message):
        parse_rds_secret(secret)


def test_credentials_are_cached_then_refetched_after_the_ttl() -> None:
    now = [0.0]
    client = stubbed_client(rds_secret(password="one"), rds_secret(password="two"))
    provider = SecretCredentials(ARN, lambda: client, ttl=60, clock=lambda: now[0])
    assert provider.get().password == "one"
    now[0] = 59
    assert provider.get().password == "one"  # cached: one call so far
    now[0] = 61
    assert provider.get().password == "two"  # rotated secret picked up


@pytest.mark.postgres
def test_an_engine_from_a_secret_connects_with_the_secret_credentials(
    postgres_admin: Engine,
) -> None:
    local = postgres_admin.url
    secret = local_secret(postgres_admin)
    settings = CommonSettings(database_secret_arn=ARN, database_sslmode="disable")
    provider = SecretCredentials(ARN, lambda: stubbed_client(secret), ttl=300)
    engine = create_db_engine(settings, provider)
    try:
        with engine.connect() as conn:
            user = conn.execute(text("SELECT current_user")).scalar_one()
            app = conn.execute(text("SHOW application_name")).scalar_one()
        assert user == local.username
        assert app == "todo"
    finally:
        engine.dispose()


class RecordingCredentials(SecretCredentials):
    """Secret credentials that note the thread of every look-up."""

    threads: list[int]

    def get(self) -> Credentials:
        self.threads.append(threading.get_ident())
        return super().get()


@pytest.mark.postgres
def test_the_event_loop_engine_shares_the_secret_and_reads_it_off_the_loop(
    postgres_admin: Engine,
) -> None:
    local = postgres_admin.url
    secret = local_secret(postgres_admin)
    settings = CommonSettings(database_secret_arn=ARN, database_sslmode="disable")
    now = [0.0]
    # Two answers: one at start-up, one once the cache has expired. A third call (a provider
    # of the loop engine's own, say) finds no answer and fails.
    client = stubbed_client(secret, secret)
    provider = RecordingCredentials(ARN, lambda: client, ttl=300, clock=lambda: now[0])
    provider.threads = []
    blocking = create_db_engine(settings, provider)
    loop_engine = create_event_loop_engine(settings, beside=blocking)
    assert loop_engine is not None
    now[0] = 301  # expired: the loop engine's first connection fetches the secret again

    async def current_user() -> tuple[str, int]:
        async with loop_engine.connect() as conn:
            user = (await conn.execute(text("SELECT current_user"))).scalar_one()
        await loop_engine.dispose()
        return str(user), threading.get_ident()

    try:
        user, loop_thread = asyncio.run(current_user())
    finally:
        blocking.dispose()
    assert user == local.username
    # The connection's look-up (the fetch from Secrets Manager) ran in a thread, not the loop's.
    assert provider.threads[-1] != loop_thread
    assert provider._fetched_at == 301


@pytest.mark.parametrize("on_event_loop", [False, True], ids=["blocking", "event-loop"])
def test_credentials_that_cannot_be_read_are_an_unavailable_database(on_event_loop: bool) -> None:
    # The secret answers at start-up, then Secrets Manager throttles once the cache expired.
    secret = rds_secret(host="127.0.0.1", port=1, password="x")
    client = stubbed_client(secret, then_error="ThrottlingException")
    now = [0.0]
    provider = SecretCredentials(ARN, lambda: client, ttl=300, clock=lambda: now[0])
    settings = CommonSettings(database_secret_arn=ARN, database_sslmode="disable")
    blocking = create_db_engine(settings, provider)
    loop_engine = create_event_loop_engine(settings, beside=blocking)
    assert loop_engine is not None
    now[0] = 301

    def connect(engine: Engine) -> None:
        with engine.connect():
            pass

    try:
        with pytest.raises(OperationalError, match=r"credentials unavailable.*Throttling"):
            if on_event_loop:
                asyncio.run(greenlet_spawn(connect, loop_engine.sync_engine))
            else:
                connect(blocking)
    finally:
        blocking.dispose()


def test_postgres_url_default_is_the_local_test_database() -> None:
    assert "127.0.0.1:5432/test" in POSTGRES_URL
