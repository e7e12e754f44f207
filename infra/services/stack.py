"""The services stack of one environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.data import DataStack
from infra.environment_stack import EnvironmentStack
from infra.messaging import MessagingStack
from infra.services.services import Services
from pipeline.config import AlbConfig, ServiceConfig
from pipeline.images import ServiceImage


class ServicesStack(EnvironmentStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_topic_name: str,
        health_alarm_prefix: str,
        vpc: ec2.IVpc,
        data: DataStack,
        messaging: MessagingStack,
        images: Mapping[str, ServiceImage],
        api: ServiceConfig,
        worker: ServiceConfig,
        alb: AlbConfig,
        log_retention_days: int,
        log_key: kms.IKey,
        protect_data: bool,
        metrics_namespace: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.app_services = Services(
            self,
            "Services",
            alarm_topic_name=alarm_topic_name,
            health_alarm_prefix=health_alarm_prefix,
            vpc=vpc,
            data=data.database,
            messaging=messaging.work_queue,
            images=images,
            api=api,
            worker=worker,
            alb=alb,
            log_retention_days=log_retention_days,
            log_key=log_key,
            protect_data=protect_data,
            metrics_namespace=metrics_namespace,
        )
        # What the frontend (CloudFront origin) and the observability stack build against.
        self.alb = self.app_services.alb
        self.origin_verify_secret = self.app_services.origin_verify_secret
        self.api_origin_domain = self.app_services.api_origin_domain
        self.api_origin_https = self.app_services.api_origin_https
        self.cluster = self.app_services.cluster
        self.services = self.app_services.services
        self.api_target_group = self.app_services.api_target_group

        scheme = "https" if self.api_origin_https else "http"
        CfnOutput(
            self,
            "AlbDnsName",
            value=self.alb.load_balancer_dns_name,
            description="DNS name of the API load balancer (CloudFront's /api origin)",
        )
        CfnOutput(
            self,
            "ApiOrigin",
            value=f"{scheme}://{self.api_origin_domain}",
            description="Origin of the API as CloudFront reaches it",
        )
