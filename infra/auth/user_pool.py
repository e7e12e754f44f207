"""The environment's Cognito user pool and its prefix domain (the managed login pages).

The pool holds the users, so it is data: it lives in the stateful stack, with deletion
protection and a retain policy where the environment protects data. Its app clients live in
the stateless stack (infra/auth/clients.py), because the web app's client names the site's
URL as its callback, and the site (CloudFront) exists only there; the stateful stack never
references a stateless resource, so it can still deploy first and on its own.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from config.model import AuthConfig
from infra.compliance import acknowledge_nag

FEATURE_PLANS = {
    "essentials": cognito.FeaturePlan.ESSENTIALS,
    "plus": cognito.FeaturePlan.PLUS,
}
# Threat protection for standard (password, SRP) sign-ins; Plus plan only.
THREAT_PROTECTION = {
    "off": cognito.StandardThreatProtectionMode.NO_ENFORCEMENT,
    "audit": cognito.StandardThreatProtectionMode.AUDIT_ONLY,
    "enforced": cognito.StandardThreatProtectionMode.FULL_FUNCTION,
}
MFA = {"off": cognito.Mfa.OFF, "optional": cognito.Mfa.OPTIONAL, "required": cognito.Mfa.REQUIRED}


class UserPool(Construct):
    """Email sign-in, email verification and recovery, TOTP MFA, a Cognito prefix domain.

    ``issuer_url`` is what the API compares each access token's ``iss`` with (and where it
    reads the JWKS), ``domain_base_url`` the origin of the authorize, token and logout
    endpoints the web app uses. The domain URL is built from the configured prefix, not read
    from the domain resource: the stateless stack needs it for the CSP and the web app's
    settings, and a plain string costs no cross-stack export.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        auth: AuthConfig,
        domain_prefix: str,
        protect_data: bool,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.user_pool = cognito.UserPool(
            self,
            "Pool",
            feature_plan=FEATURE_PLANS[auth.feature_plan],
            # Only the Plus plan takes a threat protection mode; Cognito refuses it otherwise.
            standard_threat_protection_mode=(
                THREAT_PROTECTION[auth.threat_protection] if auth.feature_plan == "plus" else None
            ),
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            # "Alice@Example.com" and "alice@example.com" are one user.
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            # A changed address takes effect once verified; until then the old one signs in.
            keep_original=cognito.KeepOriginalAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            self_sign_up_enabled=auth.self_sign_up,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            mfa=MFA[auth.mfa],
            # TOTP only: SMS needs an IAM role for Cognito and SNS spend (and is phishable).
            mfa_second_factor=(
                cognito.MfaSecondFactor(otp=True, sms=False) if auth.mfa != "off" else None
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=auth.password.min_length,
                require_lowercase=auth.password.require_lowercase,
                require_uppercase=auth.password.require_uppercase,
                require_digits=auth.password.require_digits,
                require_symbols=auth.password.require_symbols,
                temp_password_validity=Duration.days(auth.password.temporary_password_days),
            ),
            deletion_protection=protect_data,
            removal_policy=removal_policy,
        )
        # The managed login pages (version 2): the web app's client gets a branding style.
        self.domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix),
            managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
        )
        self.user_pool_id = self.user_pool.user_pool_id
        self.user_pool_arn = self.user_pool.user_pool_arn
        # Exactly the tokens' "iss" (commercial partition, as the prefix domain below).
        self.issuer_url = f"https://cognito-idp.{region}.amazonaws.com/{self.user_pool_id}"
        self.domain_base_url = f"https://{domain_prefix}.auth.{region}.amazoncognito.com"
        self._explain(auth)

    def _explain(self, auth: AuthConfig) -> None:
        if auth.mfa != "required":
            acknowledge_nag(
                self.user_pool,
                "AwsSolutions-COG2",
                f"MFA is {auth.mfa} by the environment file (auth.mfa) in an environment of test "
                "accounts, whose post-deploy checks sign a throwaway user in without a second "
                "factor; passwords follow a strong policy; prod requires MFA",
            )
        if auth.feature_plan != "plus":
            acknowledge_nag(
                self.user_pool,
                "AwsSolutions-COG8",
                f"the {auth.feature_plan} plan by the environment file (auth.feature_plan): "
                "Plus bills every active user with no free tier; this environment holds no "
                "real users, and staging and prod run Plus with threat protection",
            )
