"""The frontend stack of one environment: the web app's bucket, CDN and outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from infra.environment_stack import EnvironmentStack
from infra.frontend.site import API_PATH_PATTERN, StaticSite


class FrontendStack(EnvironmentStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        web_dist: Path,
        price_class: str,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
        certificate_arn: str | None = None,
        domain_names: list[str] | None = None,
        web_acl_arn: str | None = None,
        api_load_balancer: elbv2.ApplicationLoadBalancer | None = None,
        api_listener_port: int = 80,
        api_path_pattern: str = API_PATH_PATTERN,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.site = StaticSite(
            self,
            "Site",
            web_dist=web_dist,
            price_class=price_class,
            log_retention_days=log_retention_days,
            removal_policy=removal_policy,
            certificate_arn=certificate_arn,
            domain_names=domain_names,
            web_acl_arn=web_acl_arn,
            api_load_balancer=api_load_balancer,
            api_listener_port=api_listener_port,
            api_path_pattern=api_path_pattern,
        )
        # Read by the pipeline's post-deploy tests.
        self.site_url = CfnOutput(
            self, "SiteUrl", value=self.site.site_url, description="The web app"
        )
        self.api_url = CfnOutput(
            self, "ApiUrl", value=self.site.api_url, description="The API, through CloudFront"
        )
