"""The user pool and its domain of each environment (its stateful stack)."""

from __future__ import annotations

from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig
from tests.support.assembly import Assembly, part, resources


@pytest.fixture(scope="module")
def template(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> dict[str, Any]:
    return part(assembly.template(f"{config.project.name}-{env.name}-stateful"), "Auth")


def _pool(template: dict[str, Any]) -> dict[str, Any]:
    (pool,) = resources(template, "AWS::Cognito::UserPool").values()
    return pool


def test_users_sign_in_with_a_verified_case_insensitive_email(template: dict[str, Any]) -> None:
    pool = _pool(template)["Properties"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["UserAttributeUpdateSettings"] == {
        "AttributesRequireVerificationBeforeUpdate": ["email"]
    }
    assert pool["AccountRecoverySetting"] == {
        "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
    }
    # No SMS anywhere: no role for Cognito to send it, no SNS spend.
    assert "SmsConfiguration" not in pool


def test_sign_up_mfa_and_password_follow_the_environment_file(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    pool = _pool(template)["Properties"]
    auth = env.auth
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is (not auth.self_sign_up)
    # CloudFormation's words: OFF, OPTIONAL, and ON for required.
    assert (
        pool["MfaConfiguration"]
        == {"off": "OFF", "optional": "OPTIONAL", "required": "ON"}[auth.mfa]
    )
    assert pool.get("EnabledMfas", []) == ([] if auth.mfa == "off" else ["SOFTWARE_TOKEN_MFA"])
    assert pool["Policies"]["PasswordPolicy"] == {
        "MinimumLength": auth.password.min_length,
        "RequireLowercase": auth.password.require_lowercase,
        "RequireUppercase": auth.password.require_uppercase,
        "RequireNumbers": auth.password.require_digits,
        "RequireSymbols": auth.password.require_symbols,
        "TemporaryPasswordValidityDays": auth.password.temporary_password_days,
    }


def test_threat_protection_runs_where_the_plan_allows_it(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    pool = _pool(template)["Properties"]
    assert pool["UserPoolTier"] == env.auth.feature_plan.upper()
    expected = {"off": None, "audit": "AUDIT", "enforced": "ENFORCED"}[env.auth.threat_protection]
    assert pool.get("UserPoolAddOns", {}).get("AdvancedSecurityMode") == expected


def test_prod_enforces_threat_protection_and_dev_saves_the_plus_plan(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    def pool_of(name: str) -> dict[str, Any]:
        stateful = assembly.template(f"{config.project.name}-{name}-stateful")
        return dict(_pool(part(stateful, "Auth"))["Properties"])

    assert pool_of("prod")["UserPoolTier"] == "PLUS"
    assert pool_of("prod")["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    assert pool_of("dev")["UserPoolTier"] == "ESSENTIALS"
    assert "UserPoolAddOns" not in pool_of("dev")


def test_the_users_are_kept_where_the_environment_protects_data(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    pool = _pool(template)
    assert pool["Properties"]["DeletionProtection"] == (
        "ACTIVE" if env.protect_data else "INACTIVE"
    )
    if env.protect_data:
        assert pool["DeletionPolicy"] == "RetainExceptOnCreate"
        assert pool["UpdateReplacePolicy"] == "Retain"
    else:
        assert pool["DeletionPolicy"] == "Delete"


def test_the_managed_login_domain_is_the_environments_prefix(
    template: dict[str, Any], config: DeliveryConfig, env: EnvironmentConfig
) -> None:
    (pool_id,) = resources(template, "AWS::Cognito::UserPool")
    (domain,) = resources(template, "AWS::Cognito::UserPoolDomain").values()
    assert domain["Properties"] == {
        "Domain": config.auth_domain_prefix(env),
        "ManagedLoginVersion": 2,
        "UserPoolId": {"Ref": pool_id},
    }
