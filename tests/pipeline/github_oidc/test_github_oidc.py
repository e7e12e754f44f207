"""GitHub Actions' keyless access in the pipeline stack: one provider, one read-only role."""

from __future__ import annotations

from typing import Any, cast

import pytest

from config.cloud_assembly import PIPELINE, Template
from config.model import DeliveryConfig, load_config
from config.names import lookup_role_arn
from tests.support.assembly import Assembly, ref_target, resources

ISSUER = "token.actions.githubusercontent.com"
# Bootstrap roles that can change an account; the drift role must reach none of them.
WRITING_BOOTSTRAP_ROLES = ("deploy-role", "cfn-exec-role", "file-publishing", "image-publishing")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _web_identity_roles(template: Template) -> dict[str, dict[str, Any]]:
    return {
        logical_id: role
        for logical_id, role in resources(template, "AWS::IAM::Role").items()
        if any(
            "sts:AssumeRoleWithWebIdentity" in _as_list(statement["Action"])
            for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        )
    }


def _drift_role(template: Template) -> tuple[str, dict[str, Any]]:
    ((logical_id, role),) = _web_identity_roles(template).items()
    return logical_id, dict(role["Properties"])


def _trust_statement(template: Template) -> dict[str, Any]:
    _, role = _drift_role(template)
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    return dict(statement)


def _permission_statements(template: Template) -> list[dict[str, Any]]:
    """Every statement that applies to the drift role: inline, attached and its own."""
    logical_id, role = _drift_role(template)
    statements = [
        statement
        for inline in role.get("Policies", [])
        for statement in inline["PolicyDocument"]["Statement"]
    ]
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for policy in resources(template, policy_type).values():
            if {"Ref": logical_id} in policy["Properties"].get("Roles", []):
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _stack_lookup_roles(assembly: Assembly, config: DeliveryConfig) -> set[str]:
    """The lookup role of every account/region the synthesized assembly deploys a stack to."""
    # The pipeline's own stacks (its cross-region support stacks too), then each environment's.
    stacks = [*assembly.cloud.environment_stacks(PIPELINE)]
    for env in config.environments:
        stacks += assembly.cloud.environment_stacks(env.name)
    return {lookup_role_arn(*stack.location) for stack in stacks}


def test_provider_is_github_actions_issuer_for_sts_without_a_custom_resource(
    assembly: Assembly,
) -> None:
    template = assembly.pipeline_template
    (provider,) = resources(template, "AWS::IAM::OIDCProvider").values()
    assert provider["Properties"]["Url"] == f"https://{ISSUER}"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    # The Lambda-backed provider of iam.OpenIdConnectProvider would need its own function.
    assert not resources(template, "Custom::AWSCDKOpenIdConnectProvider")


def test_drift_role_trusts_only_the_configured_repository_branch_with_string_equals(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    template = assembly.pipeline_template
    statement = _trust_statement(template)
    source = config.pipeline.source

    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    provider = ref_target(template, statement["Principal"]["Federated"])
    assert provider["Type"] == "AWS::IAM::OIDCProvider"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER}:aud": "sts.amazonaws.com",
            f"{ISSUER}:sub": f"repo:{source.repository}:ref:refs/heads/{source.branch}",
        }
    }
    subject = statement["Condition"]["StringEquals"][f"{ISSUER}:sub"]
    assert "*" not in subject and "?" not in subject


def test_drift_role_sessions_last_at_most_an_hour_under_the_configured_name(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    _, role = _drift_role(assembly.pipeline_template)
    assert role["MaxSessionDuration"] == 3600
    assert role["RoleName"] == config.drift_role_name


def test_drift_role_may_only_assume_the_lookup_role_of_every_deployed_account_and_region(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    statements = _permission_statements(assembly.pipeline_template)
    allowed = [statement for statement in statements if statement["Effect"] == "Allow"]

    assert {action for s in allowed for action in _as_list(s["Action"])} == {"sts:AssumeRole"}
    assumable = {resource for s in allowed for resource in _as_list(s["Resource"])}
    assert assumable == _stack_lookup_roles(assembly, config)
    # The config's view: every environment and the pipeline account's own stack.
    configured = {lookup_role_arn(env.account, env.region) for env in config.environments}
    configured.add(lookup_role_arn(config.pipeline.account, config.pipeline.region))
    assert configured <= assumable
    # The edge stacks and the pipeline's replica bucket stack live in us-east-1.
    assert lookup_role_arn(config.environment("prod").account, "us-east-1") in assumable


def test_drift_role_has_nothing_that_can_deploy_or_write(assembly: Assembly) -> None:
    template = assembly.pipeline_template
    _, role = _drift_role(template)
    statements = _permission_statements(template)

    assert "ManagedPolicyArns" not in role
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        assert all("*" not in action for action in _as_list(statement["Action"]))
        for resource in _as_list(statement["Resource"]):
            assert isinstance(resource, str) and "*" not in resource
            assert ":role/cdk-hnb659fds-lookup-role-" in resource
            assert not any(name in resource for name in WRITING_BOOTSTRAP_ROLES)


def test_drift_role_arn_is_a_stack_output_for_the_repository_variable(
    assembly: Assembly,
) -> None:
    template = assembly.pipeline_template
    logical_id, _ = _drift_role(template)
    output = template["Outputs"]["GitHubDriftRoleArn"]
    assert output["Value"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert "AWS_DRIFT_ROLE_ARN" in output["Description"]


@pytest.fixture(scope="module")
def imported_template(
    raw_config: dict[str, Any],
    existing_github_provider_arn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Template:
    """The pipeline stack's drift role (PipelineStack._github_drift_role, as its __init__ calls
    it) in a pipeline account that already has GitHub's OIDC provider, synthesized alone.

    The variant concerns this one construct: a bare stack stands in for the pipeline stack (the
    lookup roles it is given do not change the trust), instead of synthesizing the whole system
    again. The config goes through load_config, so its check of the ARN applies.
    """
    import tomli_w  # noqa: PLC0415
    from aws_cdk import App, Environment, Stack  # noqa: PLC0415
    from aws_cdk.assertions import Template as SynthesizedTemplate  # noqa: PLC0415

    from pipeline.pipeline_stack import PipelineStack  # noqa: PLC0415

    class PipelineAccountStack(Stack):
        def _drift_lookup_role_arns(self) -> list[str]:
            return [lookup_role_arn(self.account, self.region)]

    tmp_path = tmp_path_factory.mktemp("imported-oidc")
    config_file = tmp_path / "imported-oidc.toml"
    pipeline = {
        **raw_config["pipeline"],
        "github": {"oidc_provider_arn": existing_github_provider_arn},
    }
    config_file.write_text(tomli_w.dumps({**raw_config, "pipeline": pipeline}), encoding="utf-8")
    config = load_config(config_file)
    stack = PipelineAccountStack(
        App(outdir=str(tmp_path / "cdk.out")),
        "Pipeline",
        env=Environment(account=config.pipeline.account, region=config.pipeline.region),
    )
    PipelineStack._github_drift_role(cast(PipelineStack, stack), config)
    return dict(SynthesizedTemplate.from_stack(stack).to_json())


def test_existing_provider_is_imported_not_created(imported_template: Template) -> None:
    assert not resources(imported_template, "AWS::IAM::OIDCProvider")


def test_drift_role_trusts_the_existing_provider_with_the_same_conditions(
    imported_template: Template, assembly: Assembly, existing_github_provider_arn: str
) -> None:
    statement = _trust_statement(imported_template)
    assert statement["Principal"] == {"Federated": existing_github_provider_arn}
    assert statement["Condition"] == _trust_statement(assembly.pipeline_template)["Condition"]
