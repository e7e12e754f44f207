"""The web app's client, its settings file and the API's token settings (the stateless stack),
and the post-deploy checks' client and role where the checks sign in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig, checks_sign_in
from config.names import verify_role_name
from infra.auth.clients import CHECKS_ACTIONS
from infra.frontend.site import SETTINGS_KEY
from tests.support.assembly import Assembly, properties, resources, stack_output


@pytest.fixture(scope="module")
def stateless(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> Any:
    return assembly.template(f"{config.project.name}-{env.name}-stateless")


@pytest.fixture(scope="module")
def pool_ref(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> Any:
    stateful = assembly.template(f"{config.project.name}-{env.name}-stateful")
    (pool_id,) = resources(stateful, "AWS::Cognito::UserPool")
    return {"Ref": pool_id}


def _site_url(stateless: dict[str, Any]) -> Any:
    (distribution_id,) = resources(stateless, "AWS::CloudFront::Distribution")
    return {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}, "/"]]}


def _clients(stateless: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The clients by role: the web app's has OAuth, the checks' has none."""
    return {
        "web" if props.get("AllowedOAuthFlowsUserPoolClient") else "checks": props
        for props in properties(stateless, "AWS::Cognito::UserPoolClient")
    }


def _web_client_ref(stateless: dict[str, Any]) -> dict[str, str]:
    (logical_id,) = [
        logical_id
        for logical_id, client in resources(stateless, "AWS::Cognito::UserPoolClient").items()
        if client["Properties"].get("AllowedOAuthFlowsUserPoolClient")
    ]
    return {"Ref": logical_id}


def test_the_web_client_is_public_and_uses_the_code_grant_only(
    stateless: dict[str, Any], assembly: Assembly, pool_ref: Any, env: EnvironmentConfig
) -> None:
    web = _clients(stateless)["web"]
    assert web["GenerateSecret"] is False
    assert web["AllowedOAuthFlows"] == ["code"]
    assert web["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    # No direct sign-in (SRP, password): only the managed login pages sign users in.
    assert web["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    assert web["SupportedIdentityProviders"] == ["COGNITO"]
    assert web["PreventUserExistenceErrors"] == "ENABLED"
    assert web["EnableTokenRevocation"] is True
    assert web["AccessTokenValidity"] == env.auth.access_token_minutes
    assert web["TokenValidityUnits"]["AccessToken"] == "minutes"
    assert stack_output(assembly, web["UserPoolId"]) == pool_ref


def test_the_web_client_returns_to_the_site_only(stateless: dict[str, Any]) -> None:
    web = _clients(stateless)["web"]
    assert web["CallbackURLs"] == [_site_url(stateless)]
    assert web["LogoutURLs"] == [_site_url(stateless)]


def test_the_web_client_has_the_managed_login_style(stateless: dict[str, Any]) -> None:
    (branding,) = properties(stateless, "AWS::Cognito::ManagedLoginBranding")
    assert branding["ClientId"] == _web_client_ref(stateless)
    assert branding["UseCognitoProvidedValues"] is True


def test_the_api_accepts_the_pools_tokens_for_the_web_client_and_the_checks(
    stateless: dict[str, Any], assembly: Assembly, pool_ref: Any, env: EnvironmentConfig
) -> None:
    (api,) = [
        container
        for task in properties(stateless, "AWS::ECS::TaskDefinition")
        for container in task["ContainerDefinitions"]
        if container["Name"] == "api"
    ]
    variables = {v["Name"]: v["Value"] for v in api["Environment"]}
    prefix, pool_output = variables["AUTH_ISSUER"]["Fn::Join"][1]
    assert prefix == f"https://cognito-idp.{env.region}.amazonaws.com/"
    assert stack_output(assembly, pool_output) == pool_ref
    if not checks_sign_in(env):
        assert variables["AUTH_CLIENT_ID"] == _web_client_ref(stateless)
        return
    # The checks' users call the API too (the Verify step, the blue/green hook).
    (checks_id,) = set(resources(stateless, "AWS::Cognito::UserPoolClient")) - set(
        _web_client_ref(stateless).values()
    )
    assert variables["AUTH_CLIENT_ID"] == {
        "Fn::Join": [",", [_web_client_ref(stateless), {"Ref": checks_id}]]
    }


def test_only_the_api_gets_token_settings(stateless: dict[str, Any]) -> None:
    for task in properties(stateless, "AWS::ECS::TaskDefinition"):
        for container in task["ContainerDefinitions"]:
            names = {v["Name"] for v in container.get("Environment", [])}
            assert ("AUTH_ISSUER" in names) is (container["Name"] == "api")


def _settings(stateless: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    (deployment,) = [
        d["Properties"]
        for d in resources(stateless, "Custom::CDKBucketDeployment").values()
        if "SourceMarkers" in d["Properties"]
    ]
    return deployment, deployment["SourceMarkers"][0]


def test_the_web_app_settings_name_this_pool_client_and_site(
    stateless: dict[str, Any], assembly: Assembly, pool_ref: Any, env: EnvironmentConfig
) -> None:
    """config.json's markers resolve at deploy time to the values below (CDK's json_data
    writes each as a JSON string: a quoted Fn::Join)."""
    deployment, markers = _settings(stateless)
    (issuer, client, redirect, logout) = markers.values()
    prefix, pool_output, quote = issuer["Fn::Join"][1]
    assert (prefix, quote) == (f'"https://cognito-idp.{env.region}.amazonaws.com/', '"')
    assert stack_output(assembly, pool_output) == pool_ref
    assert client == {"Fn::Join": ["", ['"', _web_client_ref(stateless), '"']]}
    site = _site_url(stateless)["Fn::Join"][1]
    quoted_site = {"Fn::Join": ["", ['"' + site[0], site[1], site[2] + '"']]}
    assert redirect == logout == quoted_site
    assert deployment["SystemMetadata"] == {
        "cache-control": "no-cache",
        "content-type": "application/json",
    }
    assert deployment["Prune"] is False
    (shell,) = [
        d["Properties"]
        for d in resources(stateless, "Custom::CDKBucketDeployment").values()
        if d["Properties"].get("Include") == ["index.html"]
    ]
    assert deployment["DestinationBucketName"] == shell["DestinationBucketName"]


def test_the_settings_file_has_the_shape_the_web_app_reads(
    assembly: Assembly, stateless: dict[str, Any], config: DeliveryConfig, env: EnvironmentConfig
) -> None:
    """The file in the deployment's asset, with its markers; the keys and fixed values."""
    deployment, markers = _settings(stateless)
    (key,) = deployment["SourceObjectKeys"]
    document = _asset_file(assembly, env, key.removesuffix(".zip"), SETTINGS_KEY)
    for marker in markers:
        document = document.replace(marker, '"' + marker.strip("<>") + '"')
    settings = json.loads(document)
    domain = f"https://{config.auth_domain_prefix(env)}.auth.{env.region}.amazoncognito.com"
    assert settings == {
        "auth": {
            "issuer": "marker:0xbaba:0",
            "clientId": "marker:0xbaba:1",
            "authorizeUrl": f"{domain}/oauth2/authorize",
            "tokenUrl": f"{domain}/oauth2/token",
            "logoutUrl": f"{domain}/logout",
            "redirectUri": "marker:0xbaba:2",
            "logoutUri": "marker:0xbaba:3",
            "scopes": ["openid", "email"],
        }
    }


def _asset_file(assembly: Assembly, env: EnvironmentConfig, asset_hash: str, name: str) -> str:
    directory = assembly.stage_dir(env.name).parent / f"asset.{asset_hash}"
    if not directory.exists():
        directory = assembly.root / f"asset.{asset_hash}"
    return (directory / name).read_text(encoding="utf-8")


def test_the_checks_sign_in_with_their_own_client_and_role_where_they_need_a_user(
    stateless: dict[str, Any], config: DeliveryConfig, env: EnvironmentConfig
) -> None:
    clients = _clients(stateless)
    roles = [
        role
        for role in properties(stateless, "AWS::IAM::Role")
        if role.get("RoleName") == f"{config.project.name}-{env.name}-deployed-checks"
    ]
    if not checks_sign_in(env):
        assert set(clients) == {"web"}
        assert roles == []
        assert "ChecksClientId" not in stateless.get("Outputs", {})
        return
    checks = clients["checks"]
    assert checks["ExplicitAuthFlows"] == [
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    ]
    assert checks["AllowedOAuthFlowsUserPoolClient"] is False
    assert "CallbackURLs" not in checks and checks["GenerateSecret"] is False
    (role,) = roles
    # The pipeline account, and in it the Verify step's role alone (aws:PrincipalArn).
    verify_role = verify_role_name(config.project.name, env.name)
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{config.pipeline.account}:root"},
            "Condition": {
                "ArnEquals": {
                    "aws:PrincipalArn": f"arn:aws:iam::{config.pipeline.account}:role/{verify_role}"
                }
            },
        }
    ]
    assert {"ChecksUserPoolId", "ChecksClientId"} <= set(stateless["Outputs"])


def test_the_checks_role_may_only_manage_users_of_this_pool(
    stateless: dict[str, Any],
    assembly: Assembly,
    config: DeliveryConfig,
    env: EnvironmentConfig,
    pool_ref: Any,
) -> None:
    if not checks_sign_in(env):
        pytest.skip(f"{env.name}'s checks do not sign in")
    (role_id,) = [
        logical_id
        for logical_id, role in resources(stateless, "AWS::IAM::Role").items()
        if role["Properties"].get("RoleName") == f"{config.project.name}-{env.name}-deployed-checks"
    ]
    (statements,) = [
        policy["PolicyDocument"]["Statement"]
        for policy in properties(stateless, "AWS::IAM::Policy")
        if {"Ref": role_id} in policy["Roles"]
    ]
    (statement,) = statements
    assert sorted(statement["Action"]) == sorted(CHECKS_ACTIONS)
    assert statement["Effect"] == "Allow"
    (pool_id,) = pool_ref.values()
    assert stack_output(assembly, statement["Resource"]) == {"Fn::GetAtt": [pool_id, "Arn"]}
