"""The [environments.auth] table: the shipped settings, and one clear line per mistake."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from config.model import ConfigError, DeliveryConfig, load_config

Raw = dict[str, Any]


def _env(raw: Raw, name: str) -> Raw:
    return next(env for env in raw["environments"] if env["name"] == name)


def _write(tmp_path: Path, document: Raw) -> Path:
    path = tmp_path / "environments.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def test_shipped_auth_is_cheap_in_dev_and_enforces_threat_protection_in_prod(
    config: DeliveryConfig,
) -> None:
    dev, staging, prod = (config.environment(name).auth for name in ("dev", "staging", "prod"))
    assert (dev.feature_plan, dev.threat_protection) == ("essentials", "off")
    assert (staging.feature_plan, staging.threat_protection) == ("plus", "audit")
    assert (prod.feature_plan, prod.threat_protection) == ("plus", "enforced")
    for auth in (dev, staging, prod):
        assert auth.access_token_minutes == 60
        assert auth.password.min_length >= 8
        assert auth.mfa != "off"


def test_the_domain_prefix_is_derived_from_project_environment_and_account(
    config: DeliveryConfig,
) -> None:
    assert [config.auth_domain_prefix(env) for env in config.environments] == [
        "todo-dev-222222222222",
        "todo-staging-333333333333",
        "todo-prod-444444444444",
    ]


def test_a_configured_domain_prefix_wins(raw_config: Raw, tmp_path: Path) -> None:
    document = copy.deepcopy(raw_config)
    _env(document, "dev")["auth"]["domain_prefix"] = "acme-todo-dev"
    config = load_config(_write(tmp_path, document))
    assert config.auth_domain_prefix(config.environment("dev")) == "acme-todo-dev"


def _threat_protection_on_essentials(raw: Raw) -> None:
    _env(raw, "dev")["auth"]["threat_protection"] = "enforced"


def _unknown_mfa(raw: Raw) -> None:
    _env(raw, "staging")["auth"]["mfa"] = "sms"


def _short_password(raw: Raw) -> None:
    _env(raw, "prod")["auth"]["password"]["min_length"] = 6


def _prefix_with_reserved_word(raw: Raw) -> None:
    _env(raw, "dev")["auth"]["domain_prefix"] = "my-cognito-dev"


def _prefix_with_capitals(raw: Raw) -> None:
    _env(raw, "dev")["auth"]["domain_prefix"] = "Todo-Dev"


def _derived_prefix_with_reserved_word(raw: Raw) -> None:
    raw["project"]["name"] = "awshop"


def _same_prefix_twice(raw: Raw) -> None:
    _env(raw, "dev")["auth"]["domain_prefix"] = "todo-auth"
    _env(raw, "staging")["auth"]["domain_prefix"] = "todo-auth"


def _token_validity_too_long(raw: Raw) -> None:
    _env(raw, "dev")["auth"]["access_token_minutes"] = 2000


def _self_sign_up_as_string(raw: Raw) -> None:
    _env(raw, "dev")["auth"]["self_sign_up"] = "yes"


def _missing_auth(raw: Raw) -> None:
    del _env(raw, "prod")["auth"]


def _mfa_required_where_checks_sign_in(raw: Raw) -> None:
    _env(raw, "staging")["auth"]["mfa"] = "required"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            _threat_protection_on_essentials,
            'environment "dev": field \'auth\': threat_protection = "enforced" needs '
            'feature_plan = "plus" (Cognito offers threat protection on the Plus plan only); '
            'got feature_plan = "essentials"',
        ),
        (
            _unknown_mfa,
            "environment \"staging\": field 'auth.mfa': Input should be 'off', 'optional' or "
            "'required'",
        ),
        (
            _short_password,
            "environment \"prod\": field 'auth.password.min_length': Input should be greater "
            "than or equal to 8",
        ),
        (
            _prefix_with_reserved_word,
            "environment \"dev\": field 'auth.domain_prefix': must not contain 'cognito' "
            "(Cognito refuses it), got 'my-cognito-dev'",
        ),
        (
            _prefix_with_capitals,
            "environment \"dev\": field 'auth.domain_prefix': must be 1 to 63 lower-case letters",
        ),
        (
            _derived_prefix_with_reserved_word,
            "environment \"dev\": field 'auth.domain_prefix': the prefix "
            "'awshop-dev-222222222222' (derived from project, environment and account) must not "
            "contain 'aws' (Cognito refuses it); set auth.domain_prefix",
        ),
        (
            _same_prefix_twice,
            "environment \"staging\": field 'auth.domain_prefix': 'todo-auth' is already "
            'environment "dev"\'s in eu-west-1',
        ),
        (
            _token_validity_too_long,
            "environment \"dev\": field 'auth.access_token_minutes': Input should be less than "
            "or equal to 1440",
        ),
        (
            _self_sign_up_as_string,
            "environment \"dev\": field 'auth.self_sign_up': Input should be a valid boolean",
        ),
        (_missing_auth, "environment \"prod\": field 'auth': required field is missing"),
        (
            _mfa_required_where_checks_sign_in,
            'environment "staging": field \'auth\': mfa = "required" cannot go with the '
            "contract, integration checks, which sign in a test user without a second factor",
        ),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:] if callable(value) else "",
)
def test_each_auth_mistake_is_named_with_file_environment_and_field(
    raw_config: Raw, tmp_path: Path, mutate: Callable[[Raw], None], expected: str
) -> None:
    document = copy.deepcopy(raw_config)
    mutate(document)
    path = _write(tmp_path, document)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message
