"""The typed model of the one environment file, and its loader.

Everything a fork changes lives in ``config/environments.toml``. This module is the only
place that reads it; app.py hands the validated objects to stacks and constructs, which never
read files, environment variables or CDK context themselves.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import sys
import tomllib
import zoneinfo
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config.exit_codes import BAD_INPUT, SUCCESS
from config.names import auth_domain_prefix, github_drift_role_name
from config.paths import ROOT

DEFAULT_CONFIG_FILE = ROOT / "config" / "environments.toml"
# Names another environment file for one run (tests, a fork's experiments): the synthesis and
# every command of that run read the same file.
CONFIG_FILE_VARIABLE = "DELIVERY_CONFIG"

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_DOMAIN_RE = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ACM_ARN_RE = re.compile(
    r"^arn:aws(-[a-z]+)*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}$"
)
# CloudFront only reads viewer certificates from ACM in this region.
CLOUDFRONT_CERTIFICATE_REGION = "us-east-1"
_CONNECTION_ARN_RE = re.compile(
    r"^arn:aws(-[a-z]+)*:(codeconnections|codestar-connections):"
    r"(?P<region>[a-z0-9-]+):(?P<account>\d{12}):connection/[0-9a-f-]{36}$"
)
_BRANCH_FORBIDDEN = frozenset("*?[\\~^: \t")
# GitHub Actions' OIDC issuer; an account holds at most one IAM provider for it.
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
_GITHUB_OIDC_PROVIDER_ARN_RE = re.compile(
    r"^arn:aws(-[a-z]+)*:iam::(?P<account>\d{12}):oidc-provider/"
    + re.escape(GITHUB_OIDC_HOST)
    + "$"
)


class ConfigError(Exception):
    """A problem in the environment file, already phrased for the person who edits it."""


@cache
def known_regions() -> frozenset[str]:
    """Regions of every AWS partition, from the endpoint data that ships with botocore.

    Offline and exact for the pinned botocore; a region newer than the lock needs a
    dependency update, which is what dependabot is for. Read from botocore's endpoints.json
    as botocore's EndpointResolver.get_available_endpoints reads it (the regional endpoints
    of ec2 in each partition), without starting a boto3 session: that took longer than the
    rest of loading the file.
    """
    endpoints = files("botocore").joinpath("data", "endpoints.json").read_text(encoding="utf-8")
    return frozenset(
        region
        for partition in json.loads(endpoints)["partitions"]
        for region in partition["services"].get("ec2", {}).get("endpoints", {})
        if region in partition["regions"]
    )


def _account_id(value: str) -> str:
    if not _ACCOUNT_RE.fullmatch(value):
        raise ValueError(f"must be a 12-digit AWS account id, got {value!r}")
    return value


def _region(value: str) -> str:
    if value not in known_regions():
        raise ValueError(f"unknown AWS region {value!r}")
    return value


def _cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"must be an IPv4 CIDR block, got {value!r} ({error})") from None
    if not 16 <= network.prefixlen <= 24:
        raise ValueError(
            f"prefix must be between /16 and /24 (VPC limits), got /{network.prefixlen}"
        )
    if not network.is_private:
        raise ValueError(f"must be a private (RFC 1918) range, got {value!r}")
    return value


def _email(value: str) -> str:
    if not _EMAIL_RE.fullmatch(value):
        raise ValueError(f"must be an email address, got {value!r}")
    return value


def _domain_name(value: str) -> str:
    if len(value) > 253 or not _DOMAIN_RE.fullmatch(value):
        raise ValueError(f"must be a lower-case DNS name, got {value!r}")
    return value


def _certificate_arn(value: str) -> str:
    match = _ACM_ARN_RE.fullmatch(value)
    if not match:
        raise ValueError(
            f"must look like arn:aws:acm:us-east-1:<account>:certificate/<uuid>, got {value!r}"
        )
    if match["region"] != CLOUDFRONT_CERTIFICATE_REGION:
        raise ValueError(
            f"must be an ACM certificate in {CLOUDFRONT_CERTIFICATE_REGION} (the only region "
            f"CloudFront reads certificates from), got one in {match['region']!r}"
        )
    return value


AccountId = Annotated[str, AfterValidator(_account_id)]
Region = Annotated[str, AfterValidator(_region)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Email = Annotated[str, AfterValidator(_email)]
Severity = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,20}$")]
# Values CloudWatch Logs accepts for a retention period.
RetentionDays = Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653]


class _Model(BaseModel):
    # strict: "2" is not an int and 1 is not a string; unknown keys are typos.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProjectConfig(_Model):
    name: Name
    owner: Annotated[str, Field(min_length=1, max_length=128)]
    cost_center: Annotated[str, Field(min_length=1, max_length=128)]


def _branch_name(value: str) -> str:
    # git check-ref-format refuses these; GitHub's OIDC trust must name one branch exactly.
    if not value or any(char in value for char in _BRANCH_FORBIDDEN) or value.endswith("/"):
        raise ValueError(f"must be one git branch name (no wildcard or space), got {value!r}")
    return value


class SourceConfig(_Model):
    repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")]
    branch: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_branch_name)]
    connection_arn: str

    @model_validator(mode="after")
    def _connection_arn_shape(self) -> Self:
        if not _CONNECTION_ARN_RE.fullmatch(self.connection_arn):
            raise ValueError(
                "connection_arn must look like "
                "arn:aws:codeconnections:<region>:<account>:connection/<uuid>"
            )
        return self


def _github_oidc_provider_arn(value: str) -> str:
    if not _GITHUB_OIDC_PROVIDER_ARN_RE.fullmatch(value):
        raise ValueError(
            f"must look like arn:aws:iam::<account>:oidc-provider/{GITHUB_OIDC_HOST}, got {value!r}"
        )
    return value


class GitHubConfig(_Model):
    """What GitHub Actions may do in the pipeline account: assume the read-only drift role."""

    # The account's existing GitHub Actions provider, imported instead of created (IAM
    # refuses a second provider for the same URL). Unset: the pipeline stack creates it.
    oidc_provider_arn: Annotated[str, AfterValidator(_github_oidc_provider_arn)] | None = None
    # Unset: "<project>-github-drift" (DeliveryConfig.drift_role_name).
    drift_role_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$")] | None = None

    @property
    def oidc_provider_account(self) -> str | None:
        match = _GITHUB_OIDC_PROVIDER_ARN_RE.fullmatch(self.oidc_provider_arn or "")
        return match["account"] if match else None


class PipelineConfig(_Model):
    account: AccountId
    region: Region
    source: SourceConfig
    # Execution failures, approvals waiting and production releases are sent here.
    notification_emails: list[Email]
    # The image scan gate fails on findings of this severity and above.
    image_scan_fail_on: Severity
    github: GitHubConfig = GitHubConfig()

    @field_validator("github")
    @classmethod
    def _provider_in_pipeline_account(
        cls, github: GitHubConfig, info: ValidationInfo
    ) -> GitHubConfig:
        account = info.data.get("account")
        provider_account = github.oidc_provider_account
        if provider_account is not None and account and provider_account != account:
            raise ValueError(
                f"oidc_provider_arn is in account {provider_account}; the drift role is "
                f"created in the pipeline account {account} and can only trust a provider there"
            )
        return github


def _nat_gateways(value: int) -> int:
    if value < 1:
        raise ValueError(
            f"must be at least 1, got {value}: the tasks in the private subnets reach ECR, "
            "ECR Public (the trace collector's image), X-Ray and the other AWS APIs only "
            "through NAT"
        )
    return value


class NetworkConfig(_Model):
    cidr: Cidr
    max_azs: Annotated[int, Field(ge=2, le=3)]
    nat_gateways: Annotated[int, Field(le=3), AfterValidator(_nat_gateways)]
    flow_log_retention_days: RetentionDays

    @model_validator(mode="after")
    def _nat_per_az_at_most(self) -> Self:
        if self.nat_gateways > self.max_azs:
            raise ValueError(
                f"nat_gateways ({self.nat_gateways}) cannot exceed max_azs ({self.max_azs})"
            )
        return self


class FrontendConfig(_Model):
    # Without a certificate CloudFront serves its default *.cloudfront.net certificate.
    certificate_arn: Annotated[str, AfterValidator(_certificate_arn)] | None = None
    domain_names: list[Annotated[str, AfterValidator(_domain_name)]] = []
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"]
    # Days the CloudFront and S3 access logs are kept (S3 lifecycle expiration).
    log_retention_days: Annotated[int, Field(ge=1, le=3653)]

    @model_validator(mode="after")
    def _domains_need_a_certificate(self) -> Self:
        if self.domain_names and self.certificate_arn is None:
            raise ValueError(
                "domain_names need a certificate_arn (CloudFront serves alternate domain "
                "names only with a certificate that covers them)"
            )
        return self


# Fargate task sizes AWS accepts: cpu units -> allowed memory (MiB).
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
# Aurora Serverless v2 capacity: 0 (auto-pause) to 256 ACU in steps of 0.5.
MAX_ACU = 256.0
# Staging and prod (protect_data) never pause: the first request after a pause waits ~15 s.
MIN_ACU_PROTECTED = 0.5


def _acu(value: float) -> float:
    if not 0 <= value <= MAX_ACU or (value * 2) != int(value * 2):
        raise ValueError(f"must be between 0 and {MAX_ACU:g} ACU in steps of 0.5, got {value!r}")
    return value


Acu = Annotated[float, Field(strict=False), AfterValidator(_acu)]


class DatabaseConfig(_Model):
    # 0 lets the cluster pause when idle (cheap, ~15 s resume); anything else never pauses.
    min_acu: Acu
    max_acu: Acu
    # A reader instance in another AZ: failover target and read capacity.
    reader: bool
    backup_retention_days: Annotated[int, Field(ge=1, le=35)]
    performance_insights: bool

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_acu > self.max_acu:
            raise ValueError(f"min_acu ({self.min_acu:g}) cannot exceed max_acu ({self.max_acu:g})")
        if self.max_acu < 1:
            raise ValueError(f"max_acu must be at least 1 ACU, got {self.max_acu:g}")
        return self


class ServiceSize(_Model):
    """How big one service runs in one environment."""

    cpu: int
    memory: int
    min_tasks: Annotated[int, Field(ge=1, le=100)]
    max_tasks: Annotated[int, Field(ge=1, le=100)]
    # Fargate Spot: about 70 % cheaper, tasks may be reclaimed with two minutes' notice.
    spot: bool

    @model_validator(mode="after")
    def _fargate_size_and_range(self) -> Self:
        if self.cpu not in FARGATE_SIZES:
            allowed = ", ".join(str(cpu) for cpu in FARGATE_SIZES)
            raise ValueError(f"cpu {self.cpu} is not a Fargate size (one of {allowed})")
        memories = FARGATE_SIZES[self.cpu]
        if self.memory not in memories:
            raise ValueError(
                f"Fargate does not accept cpu {self.cpu} with memory {self.memory} "
                f"(allowed: {memories[0]}..{memories[-1]} MiB in steps of "
                f"{memories[1] - memories[0]})"
            )
        if self.min_tasks > self.max_tasks:
            raise ValueError(
                f"min_tasks ({self.min_tasks}) cannot exceed max_tasks ({self.max_tasks})"
            )
        return self


# An event type as the services name them ("todo.completed"): the subscription filters match
# the message body's "type" exactly.
EventType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")]
# The shell-free exec form ECS runs as the container's health command.
HealthCommand = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
# A service's name becomes its package's suffix, an environment variable prefix and construct ids.
SERVICE_NAME_PATTERN = r"^[a-z][a-z0-9]{1,20}$"
# Names the environment's own parts already use (the ALB, the cluster, the database alarms).
RESERVED_SERVICE_NAMES = frozenset({"alb", "cluster", "database"})


def _service_name(value: str) -> str:
    if value in RESERVED_SERVICE_NAMES:
        raise ValueError(
            f"{value!r} is reserved (the environment's own {value} uses the name); pick another"
        )
    return value


ServiceName = Annotated[
    str,
    Field(pattern=SERVICE_NAME_PATTERN, description="2 to 21 lower-case letters and digits"),
    AfterValidator(_service_name),
]


class HttpAlarms(_Model):
    """Deployment alarms of an http service: breaching either rolls the deployment back."""

    # 5xx answers of the service's targets per minute.
    target_5xx_count: Annotated[int, Field(ge=1)]
    # p99 of the targets' response time, seen from the load balancer.
    p99_latency_seconds: Annotated[float, Field(gt=0, le=60, strict=False)]


class ConsumerAlarms(_Model):
    """Deployment alarm of a queue consumer: a queue it stops draining rolls it back."""

    backlog_age_seconds: Annotated[int, Field(ge=60, le=1_209_600)]


class HttpService(_Model):
    """A service behind the internal load balancer, reached through CloudFront."""

    kind: Literal["http"]
    # The CloudFront path the service answers (the load balancer's only target today).
    path_pattern: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_./-]*\*$")]
    port: Annotated[int, Field(ge=1024, le=65535)]
    health_check_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_./-]*$")]
    database: bool = False
    # Its outbox relay publishes domain events to the environment's event topic.
    publishes_events: bool = False
    deployment_alarms: HttpAlarms


class ConsumerService(_Model):
    """A service that consumes its own queue, subscribed to the event topic."""

    kind: Literal["consumer"]
    # The event types its queue receives (the subscription's filter on the message body).
    consumes: Annotated[list[EventType], Field(min_length=1)]
    health_command: HealthCommand
    database: bool = False
    publishes_events: bool = False
    deployment_alarms: ConsumerAlarms

    @field_validator("consumes")
    @classmethod
    def _unique_types(cls, consumes: list[str]) -> list[str]:
        if len(set(consumes)) != len(consumes):
            raise ValueError(f"must not repeat an event type, got {consumes}")
        return consumes


ServiceSpec = Annotated[HttpService | ConsumerService, Field(discriminator="kind")]
Registry = Mapping[str, HttpService | ConsumerService]


def http_service_of(registry: Registry) -> tuple[str, HttpService]:
    """The registry's one http service (DeliveryConfig validates there is exactly one)."""
    for name, spec in registry.items():
        if isinstance(spec, HttpService):
            return name, spec
    raise LookupError("the registry has no http service")


def consumers_of(registry: Registry) -> dict[str, ConsumerService]:
    """The registry's queue consumers, by name, in registry order."""
    return {name: spec for name, spec in registry.items() if isinstance(spec, ConsumerService)}


class WafConfig(_Model):
    enabled: bool
    # Requests per client IP in any 5-minute window before WAF blocks it.
    rate_limit: Annotated[int, Field(ge=100, le=20_000_000)]


class BudgetConfig(_Model):
    monthly_limit_usd: Annotated[float, Field(gt=0)]
    alert_emails: Annotated[
        list[Annotated[str, AfterValidator(_email)]], Field(min_length=1, max_length=10)
    ]
    # Percent of the monthly limit (actual spend) at which a notification goes out.
    thresholds: Annotated[list[Annotated[int, Field(ge=1, le=1000)]], Field(min_length=1)]

    @model_validator(mode="after")
    def _thresholds_unique(self) -> Self:
        if len(set(self.thresholds)) != len(self.thresholds):
            raise ValueError(f"thresholds must not repeat a value, got {self.thresholds}")
        return self


class QueueConfig(_Model):
    # Deliveries before a message moves to the dead-letter queue.
    max_receive_count: Annotated[int, Field(ge=3, le=5)]


class AlarmsConfig(_Model):
    # Subscribed to the environment's alarm topic (each address confirms by email once).
    emails: list[Email]


class TracingConfig(_Model):
    """How much of the services' traffic is traced to X-Ray (docs/tracing.md)."""

    # The share of new traces the services' SDK keeps, 0 to 1 (TRACING_SAMPLE_RATIO). X-Ray
    # bills every trace recorded.
    sample_ratio: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.1


# CodePipeline's DeploymentWindow rule: six space-separated fields (seconds, always "*",
# minutes, hours, day of month, month, day of week) and an optional year.
# https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html
_CRON_FIELDS = (6, 7)


class DeploymentWindow(_Model):
    """When the stage may be entered; outside it, the stage's entry condition fails."""

    cron: str
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _six_or_seven_fields(cls, cron: str) -> str:
        fields = cron.split()
        if len(fields) not in _CRON_FIELDS or fields[0] != "*":
            raise ValueError(
                "cron must have 6 or 7 space-separated fields, the first (seconds) '*', "
                f"e.g. '* * 9-16 ? * MON-THU'; got {cron!r}"
            )
        return cron

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        if timezone not in zoneinfo.available_timezones():
            raise ValueError(f"timezone must be an IANA time zone name, got {timezone!r}")
        return timezone


# ECS's limits for the traffic-shift steps of its native deployments.
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CanaryConfiguration.html
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LinearConfiguration.html
_MIN_STEP_PERCENT = {"canary": 0.1, "linear": 3.0}


class TrafficShift(_Model):
    """How the http service's new version takes production traffic (ECS native blue/green).

    Every strategy first sends the test route to the new (green) tasks, where the deployment
    hook runs the contract checks; ``canary`` then shifts ``step_percent`` of production
    traffic and waits ``step_minutes`` before the rest, ``linear`` shifts ``step_percent`` every
    ``step_minutes``, ``blue_green`` shifts it all at once.
    """

    strategy: Literal["blue_green", "canary", "linear"]
    # Blue keeps running this long after all production traffic is on green: the deployment
    # alarms can still roll back to it instantly.
    bake_minutes: Annotated[int, Field(ge=0, le=1440)]
    step_percent: Annotated[float, Field(gt=0, le=100, strict=False)] | None = None
    step_minutes: Annotated[int, Field(ge=0, le=1440)] | None = None

    @model_validator(mode="after")
    def _steps_for_gradual_strategies(self) -> Self:
        steps = (self.step_percent, self.step_minutes)
        if self.strategy == "blue_green":
            if steps != (None, None):
                raise ValueError(
                    "step_percent and step_minutes apply to canary and linear only; "
                    "blue_green shifts all traffic at once"
                )
            return self
        percent = self.step_percent
        if percent is None or self.step_minutes is None:
            raise ValueError(f"{self.strategy} needs step_percent and step_minutes")
        minimum = _MIN_STEP_PERCENT[self.strategy]
        if percent < minimum or round(percent * 10) != percent * 10:
            raise ValueError(
                f"{self.strategy} step_percent must be {minimum:g} to 100 in steps of 0.1, "
                f"got {percent:g}"
            )
        return self


# Cognito's prefix domains (<prefix>.auth.<region>.amazoncognito.com): lower-case letters, digits
# and hyphens, no hyphen at either end, and none of the words Cognito reserves.
# https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-assign-domain-prefix.html
_COGNITO_PREFIX_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
COGNITO_RESERVED_WORDS = ("aws", "amazon", "cognito")
# Threat protection (formerly advanced security) runs on the Plus feature plan only.
# https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pool-settings-threat-protection.html
THREAT_PROTECTION_PLAN = "plus"


def cognito_domain_prefix_problem(value: str) -> str | None:
    """Why ``value`` cannot be a Cognito prefix domain, or None when it can."""
    if not _COGNITO_PREFIX_RE.fullmatch(value):
        return (
            "must be 1 to 63 lower-case letters, digits and hyphens, not starting or ending "
            f"with a hyphen, got {value!r}"
        )
    reserved = [word for word in COGNITO_RESERVED_WORDS if word in value]
    if reserved:
        words = ", ".join(repr(word) for word in reserved)
        return f"must not contain {words} (Cognito refuses it), got {value!r}"
    return None


def _cognito_domain_prefix(value: str) -> str:
    problem = cognito_domain_prefix_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class PasswordPolicy(_Model):
    """What Cognito requires of a password (checked on sign-up and on every change)."""

    # Cognito accepts 6 to 99; below 8 fails cdk-nag's AwsSolutions-COG1.
    min_length: Annotated[int, Field(ge=8, le=99)]
    require_lowercase: bool
    require_uppercase: bool
    require_digits: bool
    require_symbols: bool
    # Days a temporary password (an invited or admin-created user) stays valid.
    temporary_password_days: Annotated[int, Field(ge=1, le=365)] = 3


class AuthConfig(_Model):
    """The environment's Cognito user pool: who may sign up and how they sign in."""

    # Cognito's feature plan (tier): "essentials" has managed login, "plus" adds threat
    # protection; "lite" serves the classic hosted UI only, which the web app does not target.
    feature_plan: Literal["essentials", "plus"]
    # Threat protection for password sign-ins: "audit" records risk, "enforced" acts on it.
    threat_protection: Literal["off", "audit", "enforced"]
    # Visitors may create their own account from the sign-in page.
    self_sign_up: bool
    # TOTP (authenticator app) only: SMS needs an IAM role for Cognito and SNS spend.
    mfa: Literal["off", "optional", "required"]
    password: PasswordPolicy
    # Cognito accepts 5 minutes to 1 day for access and ID tokens.
    access_token_minutes: Annotated[int, Field(ge=5, le=1440)] = 60
    # Refresh tokens: Cognito accepts 1 hour to 10 years; the web app keeps tokens in memory.
    refresh_token_days: Annotated[int, Field(ge=1, le=3650)] = 1
    # Globally unique per region. Unset: "<project>-<environment>-<account>".
    domain_prefix: Annotated[str, AfterValidator(_cognito_domain_prefix)] | None = None

    @model_validator(mode="after")
    def _threat_protection_needs_plus(self) -> Self:
        if self.threat_protection != "off" and self.feature_plan != THREAT_PROTECTION_PLAN:
            raise ValueError(
                f'threat_protection = "{self.threat_protection}" needs feature_plan = '
                f'"{THREAT_PROTECTION_PLAN}" (Cognito offers threat protection on the Plus plan '
                f'only); got feature_plan = "{self.feature_plan}"'
            )
        return self


# The post-deploy check markers that call the API as a signed-in user (smoke reads only the
# unauthenticated health routes): where one runs, the checks need a test user.
SIGNED_IN_CHECKS = frozenset({"contract", "integration"})


class EnvironmentConfig(_Model):
    name: Name
    account: AccountId
    region: Region
    approval_required: bool
    # Stacks refuse deletion, and stateful resources are retained or snapshotted on removal.
    protect_data: bool
    termination_protection: bool
    # Before deploying, fail if the change adds a wildcard permission AWS does not require
    # (policies/required-wildcards.yaml lists those it does; production).
    permissions_check: bool
    # After deploying, these tests/deployed markers run against the site's URL.
    checks: Annotated[list[Literal["smoke", "contract", "integration"]], Field(min_length=1)]
    # After deploying, wait this long with every alarm quiet before going on.
    bake_minutes: Annotated[int, Field(ge=0, le=240)]
    # Entered only inside this window (optional; the stage condition is CodePipeline's).
    deployment_window: DeploymentWindow | None = None
    # How the http service's new version takes traffic (its test route is checked first).
    traffic_shift: TrafficShift
    network: NetworkConfig
    frontend: FrontendConfig
    waf: WafConfig
    budget: BudgetConfig
    database: DatabaseConfig
    # The size of every service of the registry ([services.<name>]) in this environment.
    services: dict[str, ServiceSize]
    # Of every consumer's queue.
    queue: QueueConfig
    alarms: AlarmsConfig
    # The Cognito user pool the web app signs in with and the API validates tokens of.
    auth: AuthConfig
    # Sampling of the services' traces (optional: 10 % of new traces without it).
    tracing: TracingConfig = TracingConfig()
    # Retention of the application's log groups (services, proxy, database).
    log_retention_days: RetentionDays

    @field_validator("database")
    @classmethod
    def _no_pause_where_data_is_protected(
        cls, database: DatabaseConfig, info: ValidationInfo
    ) -> DatabaseConfig:
        if info.data.get("protect_data") and database.min_acu < MIN_ACU_PROTECTED:
            raise ValueError(
                f"min_acu must be at least {MIN_ACU_PROTECTED:g} where protect_data is true "
                f"(a paused database takes seconds to resume), got {database.min_acu:g}"
            )
        return database

    @field_validator("auth")
    @classmethod
    def _checks_sign_in_without_a_second_factor(
        cls, auth: AuthConfig, info: ValidationInfo
    ) -> AuthConfig:
        # The checks' throwaway user has no authenticator: a pool that requires MFA answers
        # its sign-in with MFA_SETUP, and every deploy would fail its checks and roll back.
        signed_in = SIGNED_IN_CHECKS.intersection(info.data.get("checks") or [])
        if auth.mfa == "required" and signed_in:
            raise ValueError(
                f'mfa = "required" cannot go with the {", ".join(sorted(signed_in))} checks, '
                "which sign in a test user without a second factor: make MFA optional here, or "
                "run only smoke checks"
            )
        return auth


def effective_auth_domain_prefix(project: ProjectConfig, environment: EnvironmentConfig) -> str:
    """The environment's Cognito prefix domain: auth.domain_prefix, else derived from names."""
    return environment.auth.domain_prefix or auth_domain_prefix(
        project.name, environment.name, environment.account
    )


def checks_sign_in(environment: EnvironmentConfig) -> bool:
    """True when the environment's post-deploy checks sign a test user in."""
    return bool(SIGNED_IN_CHECKS.intersection(environment.checks))


class DeliveryConfig(_Model):
    project: ProjectConfig
    pipeline: PipelineConfig
    # The service registry: one table per folder services/<name>/, in deployment order.
    services: Annotated[dict[ServiceName, ServiceSpec], Field(min_length=1)]
    environments: Annotated[list[EnvironmentConfig], Field(min_length=1)]

    @field_validator("services")
    @classmethod
    def _one_http_service_and_a_publisher(
        cls, services: dict[str, HttpService | ConsumerService]
    ) -> dict[str, HttpService | ConsumerService]:
        http = [name for name, spec in services.items() if isinstance(spec, HttpService)]
        if len(http) != 1:
            raise ValueError(
                'needs exactly one service of kind "http" (the load balancer\'s target and '
                f"CloudFront's API path), got {len(http)}: {', '.join(http) or 'none'}"
            )
        consumers = list(consumers_of(services))
        if consumers and not any(spec.publishes_events for spec in services.values()):
            raise ValueError(
                f"{', '.join(consumers)} consume events, but no service has publishes_events = true"
            )
        return services

    @property
    def http_service(self) -> tuple[str, HttpService]:
        """The one service behind the load balancer, with its name."""
        return http_service_of(self.services)

    @property
    def consumers(self) -> dict[str, ConsumerService]:
        """The services that consume their own queue, by name."""
        return consumers_of(self.services)

    @property
    def cross_account(self) -> bool:
        """True when any environment lives outside the pipeline account.

        Only then does the pipeline need customer-managed KMS keys on its artifacts, which
        cost money every month, so the shared-account layout does not create them.
        """
        return any(env.account != self.pipeline.account for env in self.environments)

    @property
    def drift_role_name(self) -> str:
        """The IAM role GitHub Actions' drift workflow assumes in the pipeline account."""
        return self.pipeline.github.drift_role_name or github_drift_role_name(self.project.name)

    def auth_domain_prefix(self, environment: EnvironmentConfig) -> str:
        """The environment's Cognito prefix domain: the configured one, else derived."""
        return effective_auth_domain_prefix(self.project, environment)

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)


def _describe_location(raw: dict[str, Any], loc: tuple[int | str, ...]) -> tuple[str, str]:
    """Split a pydantic error location into ("environment \"x\"" or "[section]", field path)."""
    if len(loc) >= 2 and loc[0] == "environments" and isinstance(loc[1], int):
        envs = raw.get("environments")
        name = None
        if isinstance(envs, list) and loc[1] < len(envs) and isinstance(envs[loc[1]], dict):
            name = envs[loc[1]].get("name")
        where = f'environment "{name}"' if isinstance(name, str) else f"environments[{loc[1]}]"
        return where, ".".join(str(part) for part in loc[2:]) or "(whole entry)"
    if len(loc) >= 3 and loc[0] == "services" and loc[2] in _SERVICE_KINDS:
        # The union's tag (the service's kind) is not a key of the file.
        return f"[services.{loc[1]}]", ".".join(str(part) for part in loc[3:]) or "(whole table)"
    if len(loc) >= 2:
        return f"[{loc[0]}]", ".".join(str(part) for part in loc[1:])
    return "top level", ".".join(str(part) for part in loc) or "(file)"


_SERVICE_KINDS = ("http", "consumer")


# Keys an older environment file may still carry, with what replaced them.
_RETIRED_KEYS = {
    "api": "retired: service sizes live under [environments.services.<name>], one table per "
    "service of the registry [services]; rename [environments.api] to [environments.services.api]",
    "worker": "retired: service sizes live under [environments.services.<name>]; rename "
    "[environments.worker] to [environments.services.worker]",
    "alb": "retired: CloudFront reaches the internal ALB through a VPC origin, so no ALB "
    "certificate_arn or origin_domain is needed; delete the [environments.alb] section",
}


def _format_error(path: Path, raw: dict[str, Any], error: Any) -> str:
    where, field = _describe_location(raw, tuple(error["loc"]))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        where, field = f"[services.{error['loc'][1]}]", "kind"
        message = f"must be one of {', '.join(repr(kind) for kind in _SERVICE_KINDS)}"
    elif error["type"] == "string_pattern_mismatch" and str(field).endswith(".[key]"):
        message = "a service name is 2 to 21 lower-case letters and digits, starting with a letter"
    elif error["type"] == "extra_forbidden":
        # Retired keys are sections of an environment; elsewhere a key is merely unknown.
        retired = _RETIRED_KEYS.get(field) if where.startswith("environment") else None
        message = retired or "unknown key (not part of the environment file schema)"
    elif error["type"] == "missing":
        message = "required field is missing"
    return f"{path}: {where}: field {field!r}: {message}"


def _duplicate_names(config: DeliveryConfig) -> list[str]:
    seen: set[str] = set()
    duplicates = []
    for env in config.environments:
        if env.name in seen:
            duplicates.append(env.name)
        seen.add(env.name)
    return duplicates


def _unsized_services(config: DeliveryConfig) -> list[str]:
    """Every environment sizes exactly the registry's services."""
    problems = []
    for env in config.environments:
        for name in config.services.keys() - env.services.keys():
            problems.append(
                f"environment \"{env.name}\": field 'services.{name}': required field is "
                f"missing (every service of [services] needs its size in every environment)"
            )
        for name in env.services.keys() - config.services.keys():
            problems.append(
                f"environment \"{env.name}\": field 'services.{name}': unknown service (not "
                "declared in the registry: add a [services." + name + "] table or remove this one)"
            )
    return sorted(problems)


def _auth_domain_problems(config: DeliveryConfig) -> list[str]:
    """Each environment's effective Cognito domain prefix is valid and its own in its region."""
    problems = []
    taken: dict[tuple[str, str], str] = {}
    for env in config.environments:
        prefix = config.auth_domain_prefix(env)
        origin = (
            "" if env.auth.domain_prefix else " (derived from project, environment and account)"
        )
        problem = cognito_domain_prefix_problem(prefix)
        if problem:
            problems.append(
                f"environment \"{env.name}\": field 'auth.domain_prefix': the prefix "
                f"{prefix!r}{origin} {problem.split(', got')[0]}; set auth.domain_prefix"
            )
        other = taken.setdefault((env.region, prefix), env.name)
        if other != env.name:
            problems.append(
                f"environment \"{env.name}\": field 'auth.domain_prefix': {prefix!r} is "
                f'already environment "{other}"\'s in {env.region} (prefix domains are unique '
                "per region)"
            )
    return problems


def _display_path(path: Path) -> Path:
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return path


def config_file(environ: Mapping[str, str] | None = None) -> Path:
    """The environment file of this run: DELIVERY_CONFIG when set, else the shipped one."""
    named = (os.environ if environ is None else environ).get(CONFIG_FILE_VARIABLE)
    return Path(named) if named else DEFAULT_CONFIG_FILE


def load_config(
    path: Path = DEFAULT_CONFIG_FILE, *, shown_as: Path | None = None
) -> DeliveryConfig:
    """Read and validate the environment file; every problem becomes one ConfigError line.

    ``shown_as`` names the file in the messages when ``path`` is a candidate written elsewhere
    (a command validating its edit before it replaces the real file).
    """
    shown = shown_as or _display_path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{shown}: file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{shown}: cannot be read ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{shown}: not valid TOML: {error}") from None

    try:
        config = DeliveryConfig.model_validate(raw)
    except ValidationError as error:
        lines = [_format_error(shown, raw, detail) for detail in error.errors()]
        raise ConfigError("\n".join(lines)) from None

    for name in _duplicate_names(config):
        raise ConfigError(
            f"{shown}: environment \"{name}\": field 'name': duplicate environment name {name!r}"
        )
    problems = [
        f"{shown}: {problem}"
        for problem in [*_unsized_services(config), *_auth_domain_problems(config)]
    ]
    if problems:
        raise ConfigError("\n".join(problems))
    return config


def main(argv: list[str] | None = None) -> int:
    """`python -m config.model [FILE]`: validate the environment file, one line per problem."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_CONFIG_FILE
    try:
        config = load_config(path)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    names = ", ".join(env.name for env in config.environments)
    print(f"{_display_path(path)}: ok ({names})")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
