"""Typed settings: defaults, validation, and the one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from todo_api.settings import ApiSettings
from todo_common.settings import CommonSettings, SettingsError, load_settings

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:todo/db-AbCdEf"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing set but what the API cannot start without: whom to trust for tokens."""
    for field in ApiSettings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)
    monkeypatch.setenv("AUTH_ISSUER", ISSUER)
    monkeypatch.setenv("AUTH_CLIENT_ID", "1example23456789")


def test_defaults_need_nothing_installed() -> None:
    settings = load_settings(ApiSettings)
    assert settings.database_url is None
    assert settings.database_secret_arn is None
    assert settings.data_dir == Path("data")
    assert settings.api_host == "127.0.0.1"
    assert settings.api_port == 8000
    assert settings.api_max_body_bytes == 64 * 1024
    assert (settings.database_pool_size, settings.database_max_overflow) == (10, 0)
    assert settings.database_statement_timeout_ms == 0
    assert settings.service_name == "todo-api"


def test_environment_is_read_case_insensitively_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "9000")
    monkeypatch.setenv("log_level", "debug")
    monkeypatch.setenv("DATABASE_MIGRATE", "false")
    monkeypatch.setenv("DATABASE_SECRET_ARN", ARN)
    settings = load_settings(ApiSettings)
    assert settings.api_port == 9000
    assert settings.log_level == "DEBUG"
    assert settings.database_migrate is False
    assert settings.secret_region == "eu-west-1"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"API_PORT": "x"}, "API_PORT"),
        ({"DATABASE_POOL_SIZE": "500"}, "DATABASE_POOL_SIZE"),
        ({"DATABASE_URL": "redis://localhost"}, "DATABASE_URL"),
        ({"DATABASE_SCHEMA": "Robert'); DROP TABLE todos;--"}, "DATABASE_SCHEMA"),
        ({"DATABASE_SSLMODE": "sometimes"}, "DATABASE_SSLMODE"),
        ({"DATABASE_SECRET_ARN": "arn:aws:iam::123456789012:role/x"}, "DATABASE_SECRET_ARN"),
        ({"QUEUE_URL": "sqs:todo-events"}, "QUEUE_URL"),
        ({"SQS_ENDPOINT_URL": "localhost:5000"}, "SQS_ENDPOINT_URL"),
        ({"EVENTS_TOPIC_ARN": "arn:aws:sqs:eu-west-1:123456789012:x"}, "EVENTS_TOPIC_ARN"),
        ({"EVENTS_TOPIC_ARN": "https://sns.eu-west-1.amazonaws.com/x"}, "EVENTS_TOPIC_ARN"),
        ({"SNS_ENDPOINT_URL": "localhost:5000"}, "SNS_ENDPOINT_URL"),
        ({"AWS_REGION": "Mars"}, "AWS_REGION"),
        ({"RELAY_BATCH_SIZE": "11"}, "RELAY_BATCH_SIZE"),
        ({"RELAY_MAX_BACKOFF_SECONDS": "0"}, "RELAY_MAX_BACKOFF_SECONDS"),
        ({"AUTH_ISSUER": "http://cognito-idp.example.com/pool"}, "AUTH_ISSUER"),
        ({"AUTH_ISSUER": "cognito-idp.eu-west-1.amazonaws.com/pool"}, "AUTH_ISSUER"),
        ({"AUTH_ISSUER": ""}, "AUTH_ISSUER"),
        ({"AUTH_JWKS_URL": "http://10.0.0.1/jwks.json"}, "AUTH_JWKS_URL"),
        ({"AUTH_CLIENT_ID": "a b"}, "AUTH_CLIENT_ID"),
        ({"AUTH_CLIENT_ID": "web,"}, "AUTH_CLIENT_ID"),
        ({"AUTH_LEEWAY_SECONDS": "301"}, "AUTH_LEEWAY_SECONDS"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(ApiSettings)
    message = str(caught.value)
    assert message.startswith(f"invalid setting {named}: ")
    assert "\n" not in message


def test_url_and_secret_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/d")
    monkeypatch.setenv("DATABASE_SECRET_ARN", ARN)
    with pytest.raises(SettingsError, match=r"DATABASE_URL, DATABASE_SECRET_ARN: set one"):
        load_settings(CommonSettings)


@pytest.mark.parametrize(
    ("variable", "value"), [("DATABASE_STATEMENT_TIMEOUT_MS", "5000"), ("DATABASE_SCHEMA", "app")]
)
def test_startup_options_are_refused_with_a_secret(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("DATABASE_SECRET_ARN", ARN)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match="RDS Proxy refuses startup options"):
        load_settings(CommonSettings)


def test_several_errors_stay_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "-1")
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(SettingsError) as caught:
        load_settings(ApiSettings)
    message = str(caught.value)
    assert "API_PORT: " in message
    assert "LOG_LEVEL: " in message
    assert len(message.splitlines()) == 1


def test_the_database_url_is_not_shown_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:hunter2@db/todo")
    assert "hunter2" not in repr(load_settings(ApiSettings))


@pytest.mark.parametrize(
    ("env", "region"),
    [
        ({"QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/todo"}, "eu-west-1"),
        (
            {
                "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/todo",
                "AWS_REGION": "eu-central-1",
            },
            "eu-central-1",
        ),
        ({"QUEUE_URL": "http://127.0.0.1:5000/000000000000/todo"}, "us-east-1"),
    ],
)
def test_the_queue_region(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], region: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(ApiSettings)
    assert settings.queue_region == region
    assert settings.queue_url == env["QUEUE_URL"]


@pytest.mark.parametrize(
    ("env", "region"),
    [
        ({"EVENTS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:todo-dev-events"}, "eu-west-1"),
        (
            {
                "EVENTS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:todo-dev-events",
                "AWS_REGION": "eu-central-1",
            },
            "eu-central-1",
        ),
        ({}, "us-east-1"),
    ],
)
def test_the_topic_region(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], region: str
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(ApiSettings)
    assert settings.topic_region == region
    assert settings.events_topic_arn == env.get("EVENTS_TOPIC_ARN")


def test_the_api_does_not_start_without_an_issuer_to_trust(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """There is no setting that turns authentication off."""
    monkeypatch.delenv("AUTH_ISSUER")
    monkeypatch.delenv("AUTH_CLIENT_ID")
    with pytest.raises(SettingsError) as caught:
        load_settings(ApiSettings)
    assert str(caught.value) == (
        "invalid setting AUTH_ISSUER: Field required; AUTH_CLIENT_ID: Field required"
    )


def test_the_keys_are_read_beside_the_issuer_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(ApiSettings).jwks_url == f"{ISSUER}/.well-known/jwks.json"
    monkeypatch.setenv("AUTH_ISSUER", "http://127.0.0.1:9999")  # the local issuer: loopback
    monkeypatch.setenv("AUTH_JWKS_URL", "http://localhost:9998/keys")
    settings = load_settings(ApiSettings)
    assert (settings.auth_issuer, settings.jwks_url) == (
        "http://127.0.0.1:9999",
        "http://localhost:9998/keys",
    )


def test_several_app_clients_may_be_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The web app's, and the post-deploy checks' own (dev, staging)."""
    monkeypatch.setenv("AUTH_CLIENT_ID", "web1example,checks2example")
    assert load_settings(ApiSettings).client_ids == {"web1example", "checks2example"}
