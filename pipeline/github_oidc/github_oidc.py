"""Keyless AWS access for GitHub Actions: the OIDC provider and the read-only drift role."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

from pipeline.github_oidc.provider import AUDIENCE, github_actions_provider
from pipeline.github_oidc.trust import branch_conditions

# Drift detection of every stack takes minutes; an hour is IAM's floor anyway.
MAX_SESSION = Duration.hours(1)


class GitHubOidc(Construct):
    """GitHub Actions' identity provider and the one role its drift workflow may assume.

    The drift role can do nothing but assume the CDK bootstrap lookup roles it is given
    (ReadOnlyAccess, KMS decrypt denied): workflows on GitHub get no credential that can
    deploy or write, and no long-lived key exists anywhere.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: str,
        branch: str,
        drift_role_name: str,
        lookup_role_arns: Sequence[str],
        existing_provider_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not lookup_role_arns:
            raise ValueError("the drift role needs at least one lookup role to assume")

        self.provider = github_actions_provider(
            self, "Provider", existing_arn=existing_provider_arn
        )
        self.provider_arn: str = self.provider.oidc_provider_arn
        self.drift_role = iam.Role(
            self,
            "DriftRole",
            role_name=drift_role_name,
            description=(
                f"GitHub Actions drift detection for {repository}@{branch}: "
                "may only assume the CDK lookup roles (read-only)"
            ),
            assumed_by=iam.WebIdentityPrincipal(
                self.provider_arn,
                conditions=branch_conditions(
                    audience=AUDIENCE, repository=repository, branch=branch
                ),
            ),
            max_session_duration=MAX_SESSION,
        )
        self.drift_role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeLookupRoles",
                actions=["sts:AssumeRole"],
                resources=sorted(set(lookup_role_arns)),
            )
        )
