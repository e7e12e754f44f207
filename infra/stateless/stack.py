"""The stateless stack of one environment: what may be replaced.

The ECS cluster, internal ALB and services; the alarm topic, dashboard and alarms; the web
app's bucket and CloudFront; the user pool's app clients; the cost budget. It reads the
stateful stack's VPC, keys, queues, topic, database and user pool (CloudFormation exports)
and the edge stack's web ACL (a cross-region reference), so it deploys once both are in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy
from constructs import Construct

from config.model import (
    AuthConfig,
    BudgetConfig,
    FrontendConfig,
    Registry,
    ServiceSize,
    TrafficShift,
)
from infra.auth.clients import WEB_SCOPES, ChecksSignIn, WebClient
from infra.budget.budget import EnvironmentBudget
from infra.environment_stack import EnvironmentStack
from infra.frontend.site import StaticSite
from infra.images import ServiceImage
from infra.observability.monitoring import Monitoring
from infra.services.service import EventTopic
from infra.services.services import Services
from infra.stateful import StatefulStack


class StatelessStack(EnvironmentStack):
    """Every construct keeps the construct id (so the logical ids) it had in the former
    services, observability, frontend and budget stacks."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stateful: StatefulStack,
        project: str,
        alarm_topic_name: str,
        health_alarm_prefix: str,
        health_alarm_name: str,
        registry: Registry,
        sizes: Mapping[str, ServiceSize],
        traffic_shift: TrafficShift,
        checks: Sequence[str],
        images: Mapping[str, ServiceImage],
        log_retention_days: int,
        protect_data: bool,
        metrics_namespace: str,
        trace_sample_ratio: float,
        alarm_emails: list[str],
        web_dist: Path,
        frontend: FrontendConfig,
        web_acl_arn: str | None,
        api_path_pattern: str,
        auth: AuthConfig,
        checks_role_name: str,
        checks_trusted_account: str | None,
        checks_trusted_role_name: str,
        removal_policy: RemovalPolicy,
        budget_name: str,
        budget: BudgetConfig,
        cost_tags: Mapping[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        messaging = stateful.messaging
        self.fleet = Services(
            self,
            "Services",
            project=project,
            alarm_topic_name=alarm_topic_name,
            health_alarm_prefix=health_alarm_prefix,
            vpc=stateful.network.vpc,
            data=stateful.database,
            queues=messaging.queues,
            events=EventTopic(topic=messaging.topic, key=messaging.topic_key),
            registry=registry,
            sizes=sizes,
            traffic_shift=traffic_shift,
            checks=checks,
            images=images,
            log_retention_days=log_retention_days,
            log_key=stateful.log_key,
            protect_data=protect_data,
            metrics_namespace=metrics_namespace,
            trace_sample_ratio=trace_sample_ratio,
        )
        CfnOutput(
            self,
            "AlbDnsName",
            value=self.fleet.alb.load_balancer_dns_name,
            description="DNS name of the internal load balancer (CloudFront's VPC origin)",
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            topic_name=alarm_topic_name,
            health_alarm_prefix=health_alarm_prefix,
            health_alarm_name=health_alarm_name,
            emails=alarm_emails,
            data=stateful.database,
            queues=messaging.queues,
            events=messaging.topic,
            services=self.fleet,
        )
        self.site = self._site(
            web_dist=web_dist,
            sign_in_origin=stateful.auth.domain_base_url,
            frontend=frontend,
            web_acl_arn=web_acl_arn,
            api_path_pattern=api_path_pattern,
            removal_policy=removal_policy,
        )
        self._sign_in(
            stateful=stateful,
            auth=auth,
            checks_role_name=checks_role_name,
            checks_trusted_account=checks_trusted_account,
            checks_trusted_role_name=checks_trusted_role_name,
        )
        # Spend of everything tagged with this project and environment; alerts go to the
        # configured emails and to the environment's alarm topic.
        self.budget = EnvironmentBudget(
            self,
            "Budget",
            name=budget_name,
            monthly_limit_usd=budget.monthly_limit_usd,
            alert_emails=list(budget.alert_emails),
            thresholds=list(budget.thresholds),
            cost_tags=cost_tags,
            topic=self.monitoring.topic,
        )

    def _site(
        self,
        *,
        web_dist: Path,
        sign_in_origin: str,
        frontend: FrontendConfig,
        web_acl_arn: str | None,
        api_path_pattern: str,
        removal_policy: RemovalPolicy,
    ) -> StaticSite:
        """The web app and the API (the fleet's internal ALB, CloudFront's VPC origin)."""
        site = StaticSite(
            self,
            "Site",
            web_dist=web_dist,
            price_class=frontend.price_class,
            log_retention_days=frontend.log_retention_days,
            removal_policy=removal_policy,
            certificate_arn=frontend.certificate_arn,
            domain_names=list(frontend.domain_names),
            web_acl_arn=web_acl_arn,
            api_load_balancer=self.fleet.alb,
            api_listener_port=self.fleet.listener_port,
            api_path_pattern=api_path_pattern,
            sign_in_origin=sign_in_origin,
        )
        # Read by the pipeline's post-deploy tests.
        self.site_url = CfnOutput(self, "SiteUrl", value=site.site_url, description="The web app")
        self.api_url = CfnOutput(
            self, "ApiUrl", value=site.api_url, description="The API, through CloudFront"
        )
        return site

    def _sign_in(
        self,
        *,
        stateful: StatefulStack,
        auth: AuthConfig,
        checks_role_name: str,
        checks_trusted_account: str | None,
        checks_trusted_role_name: str,
    ) -> None:
        """The web app's client, its settings file, the API's token settings; the checks'.

        After the site: the client's callback is the site's URL. The pool stays in the
        stateful stack (its users are data); these read its id and ARN from there.
        """
        pool = stateful.auth
        self.web_client = WebClient(
            self, "WebClient", pool=pool, auth=auth, site_url=self.site.public_url
        )
        domain = pool.domain_base_url
        self.site.deploy_settings(
            {
                "auth": {
                    "issuer": pool.issuer_url,
                    "clientId": self.web_client.client_id,
                    "authorizeUrl": f"{domain}/oauth2/authorize",
                    "tokenUrl": f"{domain}/oauth2/token",
                    "logoutUrl": f"{domain}/logout",
                    "redirectUri": self.web_client.redirect_uri,
                    "logoutUri": self.web_client.redirect_uri,
                    "scopes": list(WEB_SCOPES),
                }
            }
        )
        api = self.fleet.members[self.fleet.http_service_name]
        self.checks_sign_in: ChecksSignIn | None = None
        self.checks_user_pool_id: CfnOutput | None = None
        self.checks_client_id: CfnOutput | None = None
        if checks_trusted_account is None:
            api.accept_tokens_of(issuer_url=pool.issuer_url, client_ids=[self.web_client.client_id])
            return
        self.checks_sign_in = ChecksSignIn(
            self,
            "ChecksSignIn",
            pool=pool,
            role_name=checks_role_name,
            trusted_account=checks_trusted_account,
            trusted_role_name=checks_trusted_role_name,
        )
        # The checks' users call the API too: from the Verify step and from the blue/green
        # hook, which signs its own user in before the contract checks run against green.
        api.accept_tokens_of(
            issuer_url=pool.issuer_url,
            client_ids=[self.web_client.client_id, self.checks_sign_in.client_id],
        )
        self.fleet.deployment_hook.sign_in_checks(
            user_pool_id=pool.user_pool_id,
            user_pool_arn=pool.user_pool_arn,
            client_id=self.checks_sign_in.client_id,
        )
        # Read by the pipeline's Verify step (its checks sign a test user in with these).
        self.checks_user_pool_id = CfnOutput(
            self, "ChecksUserPoolId", value=pool.user_pool_id, description="The user pool"
        )
        self.checks_client_id = CfnOutput(
            self,
            "ChecksClientId",
            value=self.checks_sign_in.client_id,
            description="The post-deploy checks' app client",
        )
