"""The pipeline's own steps. Each runs one buildspec of buildspecs/, i.e. one make target,
handed over already loaded (app.py reads the files).

Every step checks out the commit (the source) so the same Makefile and Python modules run in
CodeBuild as on a laptop; steps that need the synthesized templates also get cdk.out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam

from config.model import EnvironmentConfig
from config.names import deploy_role_arn, file_publishing_role_arn, lookup_role_arn
from infra.edge.stack import CLOUDFRONT_WAF_REGION
from pipeline.buildspec import Buildspec

EXECUTION_ID = "#{codepipeline.PipelineExecutionId}"
# What a Verify action needs besides its bake: install, the checks, the release record.
VERIFY_OVERHEAD_MINUTES = 30


def make_step(
    step_id: str,
    *,
    buildspec: Buildspec,
    source: pipelines.IFileSetProducer,
    env: Mapping[str, str] | None = None,
    outputs: Mapping[str, CfnOutput] | None = None,
    policies: Sequence[iam.PolicyStatement] = (),
    assembly: pipelines.IFileSetProducer | None = None,
    privileged: bool = False,
    timeout_minutes: int = 30,
    role: iam.IRole | None = None,
) -> pipelines.CodeBuildStep:
    """``role``: the CodeBuild project's own, where it must have a known name; else CDK's."""
    return pipelines.CodeBuildStep(
        step_id,
        input=source,
        additional_inputs={"cdk.out": assembly} if assembly else None,
        install_commands=buildspec.install_commands,
        commands=buildspec.commands,
        partial_build_spec=codebuild.BuildSpec.from_object(buildspec.partial),
        env=dict(env or {}),
        env_from_cfn_outputs=dict(outputs) if outputs else None,
        role_policy_statements=list(policies),
        build_environment=codebuild.BuildEnvironment(privileged=privileged),
        timeout=Duration.minutes(timeout_minutes),
        role=role,
    )


def _assume_lookup_role(environment: EnvironmentConfig) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["sts:AssumeRole"],
        resources=[lookup_role_arn(environment.account, environment.region)],
    )


def _review_change_set_roles(environment: EnvironmentConfig) -> iam.PolicyStatement:
    """The bootstrap roles a change report creates its review change sets through, in every
    region the environment has a stack in (ops/review/review_change_sets.py)."""
    regions = {environment.region}
    if environment.waf.enabled:
        regions.add(CLOUDFRONT_WAF_REGION)
    account = environment.account
    return iam.PolicyStatement(
        actions=["sts:AssumeRole"],
        resources=sorted(
            role(account, region)
            for region in regions
            for role in (deploy_role_arn, file_publishing_role_arn)
        ),
    )


def change_report_step(
    environment: EnvironmentConfig,
    *,
    buildspec: Buildspec,
    source: pipelines.IFileSetProducer,
    assembly: pipelines.IFileSetProducer,
    report_bucket_name: str,
    report_bucket_arn: str,
    report_url: str,
    topic_arn: str,
    publish_statements: Sequence[iam.PolicyStatement],
    fail_on_wildcard: bool,
) -> pipelines.CodeBuildStep:
    """CloudFormation's review change sets and the offline diff against the deployed
    templates, stored and announced: the approval follows this report."""
    store_report = iam.PolicyStatement(
        actions=["s3:PutObject"],
        resources=[f"{report_bucket_arn}/{report_object_pattern(environment.name)}"],
    )
    return make_step(
        f"ChangeReport-{environment.name}",
        buildspec=buildspec,
        source=source,
        assembly=assembly,
        env={
            "ENV": environment.name,
            "LOOKUP_ROLE_ARN": lookup_role_arn(environment.account, environment.region),
            "REPORT_S3_URI": f"s3://{report_bucket_name}/{report_key(environment.name)}",
            "REVIEW_URL": report_url,
            "NOTIFY_TOPIC_ARN": topic_arn,
            "CHANGE_REPORT_FLAGS": "--fail-on-wildcard" if fail_on_wildcard else "",
            "PIPELINE_EXECUTION_ID": EXECUTION_ID,
        },
        policies=[
            _assume_lookup_role(environment),
            _review_change_set_roles(environment),
            store_report,
            *publish_statements,
        ],
    )


def report_key(environment: str) -> str:
    return f"change-reports/{EXECUTION_ID}/{environment}.md"


def report_object_pattern(environment: str) -> str:
    """Every execution's report of ``environment``: what its change report step may write."""
    return report_key(environment).replace(EXECUTION_ID, "*")


@dataclass(frozen=True, kw_only=True)
class CheckSignIn:
    """How the post-deploy checks sign their test user in (infra/auth/clients.ChecksSignIn)."""

    user_pool_id: CfnOutput
    client_id: CfnOutput
    # The role in the environment's account: fixed name, so known without a reference.
    role_arn: str
    # The Verify step's own role, named: the checks role trusts it alone (aws:PrincipalArn).
    step_role: iam.IRole


def verify_step(
    environment: EnvironmentConfig,
    *,
    buildspec: Buildspec,
    source: pipelines.IFileSetProducer,
    site_url: CfnOutput,
    parameter_arn: str,
    history_parameter_arns: Sequence[str],
    image_statements: Sequence[iam.PolicyStatement],
    sign_in: CheckSignIn | None = None,
) -> pipelines.CodeBuildStep:
    """Checks, bake, then the release record, in one action (ops/release/verify.py).

    Its role is the union of what the three parts need and nothing more: the lookup role
    (the bake reads the environment's alarms through it), this environment's record, and
    every environment's history to fit the release tags of the image repositories to what
    the retained records name (ops/release/record.py). Where the checks sign in, it may also
    assume the environment's checks role, which alone may manage that pool's test user.
    """
    outputs = {"SITE_URL": site_url}
    sign_in_env: dict[str, str] = {}
    sign_in_policies: list[iam.PolicyStatement] = []
    if sign_in is not None:
        outputs |= {
            "CHECKS_USER_POOL_ID": sign_in.user_pool_id,
            "CHECKS_CLIENT_ID": sign_in.client_id,
        }
        sign_in_env = {"CHECKS_ROLE_ARN": sign_in.role_arn}
        sign_in_policies = [
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[sign_in.role_arn])
        ]
    return make_step(
        f"Verify-{environment.name}",
        buildspec=buildspec,
        source=source,
        env={
            "ENV": environment.name,
            "CHECK_MARKERS": " or ".join(environment.checks),
            "BAKE_MINUTES": str(environment.bake_minutes),
            "BAKE_ROLE_ARN": lookup_role_arn(environment.account, environment.region),
            "PIPELINE_EXECUTION_ID": EXECUTION_ID,
            **sign_in_env,
        },
        outputs=outputs,
        policies=[
            _assume_lookup_role(environment),
            *sign_in_policies,
            iam.PolicyStatement(actions=["ssm:PutParameter"], resources=[parameter_arn]),
            iam.PolicyStatement(
                actions=["ssm:GetParameterHistory", "ssm:GetParameters"],
                resources=list(history_parameter_arns),
            ),
            *image_statements,
        ],
        # The bake, plus the checks and the record (minutes each) and the install phase.
        timeout_minutes=environment.bake_minutes + VERIFY_OVERHEAD_MINUTES,
        role=sign_in.step_role if sign_in is not None else None,
    )
