"""The user pool's app clients: the web app's, and the post-deploy checks' where they sign in.

They live in the stateless stack: the web app's client names the site's URL (CloudFront's,
created there) as its callback and logout URL. They read the pool from the stateful stack
through one CloudFormation export (the pool id; its ARN for the checks' role), and a client
replaced with the stateless stack costs only a sign-in, no user.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.model import AuthConfig
from config.names import CHECKS_ROLE_ACTIONS
from infra.auth.user_pool import UserPool

# What the web app asks for (config.json "scopes"); the client also allows "profile".
WEB_SCOPES = ("openid", "email")
_OAUTH_SCOPES = [
    cognito.OAuthScope.OPENID,
    cognito.OAuthScope.EMAIL,
    cognito.OAuthScope.PROFILE,
]
# The only calls the checks' role may make, on the one pool.
CHECKS_ACTIONS = CHECKS_ROLE_ACTIONS


def _public_client(scope: Construct, pool: UserPool, **flows: Any) -> cognito.UserPoolClient:
    """An app client without a secret (a browser cannot keep one), that signs in through Cognito
    alone, hides whether a user exists, and whose tokens can be revoked; ``flows`` say how.
    Scoped to ``scope``, not pool.add_client, which would put it in the pool's stack."""
    return cognito.UserPoolClient(
        scope,
        "Client",
        user_pool=pool.user_pool,
        generate_secret=False,
        supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
        prevent_user_existence_errors=True,
        enable_token_revocation=True,
        **flows,
    )


class WebClient(Construct):
    """The web app's public client: authorization code grant only, no secret.

    Cognito supports PKCE on the code grant and checks the verifier whenever the authorize
    request carried a ``code_challenge``; its documentation names no client setting that
    requires one, so sending it is the web app's part (it always does, docs/auth.md). The
    client allows no direct sign-in flow (no SRP, no password): only the managed login pages
    sign users in, and ``ALLOW_REFRESH_TOKEN_AUTH`` is the one explicit flow.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pool: UserPool,
        auth: AuthConfig,
        site_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # The SPA's route "/" handles the callback; the same URL is where sign-out lands.
        self.redirect_uri = site_url.rstrip("/") + "/"
        self.client = _public_client(
            self,
            pool,
            # A key set (even false) makes CDK write the list: only the refresh flow stays.
            auth_flows=cognito.AuthFlow(user_srp=False),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(
                    authorization_code_grant=True,
                    implicit_code_grant=False,
                    client_credentials=False,
                ),
                scopes=_OAUTH_SCOPES,
                callback_urls=[self.redirect_uri],
                logout_urls=[self.redirect_uri],
            ),
            access_token_validity=Duration.minutes(auth.access_token_minutes),
            id_token_validity=Duration.minutes(auth.access_token_minutes),
            refresh_token_validity=Duration.days(auth.refresh_token_days),
        )
        self.client_id = self.client.user_pool_client_id
        # Managed login (version 2) shows its pages to a client only once it has a style.
        self.branding = cognito.CfnManagedLoginBranding(
            self,
            "Branding",
            user_pool_id=pool.user_pool_id,
            client_id=self.client_id,
            use_cognito_provided_values=True,
        )
        self.branding.node.add_dependency(pool.domain)


class ChecksSignIn(Construct):
    """What the post-deploy checks sign a test user in with: their own client and role.

    A second client rather than the web app's, so the web app's stays exactly what a browser
    may do (the code grant, nothing else), identical in every environment; this one has no
    OAuth, no hosted pages and no callback, only ``ALLOW_ADMIN_USER_PASSWORD_AUTH``, which
    needs IAM credentials for ``AdminInitiateAuth``, and exists only where checks sign in.

    The role lives in the environment's account (Cognito has no resource policy, so a caller
    in the pipeline account needs a role here); only the pipeline's Verify step role may
    assume it, and it may create, set the password of, sign in and delete users of this one
    pool.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pool: UserPool,
        role_name: str,
        trusted_account: str,
        trusted_role_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.client = _public_client(
            self,
            pool,
            auth_flows=cognito.AuthFlow(admin_user_password=True),
            disable_o_auth=True,
            # A check run takes minutes; Cognito's minimums are 5 minutes and 1 hour.
            access_token_validity=Duration.minutes(15),
            id_token_validity=Duration.minutes(15),
            refresh_token_validity=Duration.hours(1),
        )
        self.client_id = self.client.user_pool_client_id
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            # The pipeline account, and in it only the Verify step's role (by ARN in a
            # condition rather than as the principal: a principal ARN breaks when its role is
            # recreated, aws:PrincipalArn does not).
            assumed_by=iam.AccountPrincipal(trusted_account).with_conditions(
                {
                    "ArnEquals": {
                        "aws:PrincipalArn": Stack.of(self).format_arn(
                            service="iam",
                            region="",
                            account=trusted_account,
                            resource="role",
                            resource_name=trusted_role_name,
                        )
                    }
                }
            ),
            description="Post-deploy checks: create, sign in and delete their test user",
            max_session_duration=Duration.hours(1),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=list(CHECKS_ACTIONS), resources=[pool.user_pool_arn])
        )
