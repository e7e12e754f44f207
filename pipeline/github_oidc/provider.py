"""The IAM identity provider for GitHub Actions' OIDC tokens: created, or the existing one."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from config.model import GITHUB_OIDC_HOST

ISSUER_URL = f"https://{GITHUB_OIDC_HOST}"
# The audience aws-actions/configure-aws-credentials requests; STS rejects any other.
AUDIENCE = "sts.amazonaws.com"


def github_actions_provider(
    scope: Construct, construct_id: str, *, existing_arn: str | None
) -> iam.IOidcProvider:
    """The account's GitHub Actions provider.

    IAM holds one provider per URL and account, so an account where another stack (or a
    person) already created it must import that one instead of creating a second.
    """
    if existing_arn is not None:
        return iam.OidcProviderNative.from_oidc_provider_arn(scope, construct_id, existing_arn)
    # No thumbprints: IAM validates GitHub's issuer against its own trusted CAs, so a
    # pinned thumbprint would only break the trust the day GitHub rotates its certificate.
    return iam.OidcProviderNative(scope, construct_id, url=ISSUER_URL, client_ids=[AUDIENCE])
