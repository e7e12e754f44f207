"""The services stack of one environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from config.model import ServiceConfig
from infra.data import DataStack
from infra.environment_stack import EnvironmentStack
from infra.images import ServiceImage
from infra.messaging import MessagingStack
from infra.services.services import Services


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
            log_retention_days=log_retention_days,
            log_key=log_key,
            protect_data=protect_data,
            metrics_namespace=metrics_namespace,
        )
        # What the frontend (CloudFront's VPC origin) and the observability stack build against.
        self.alb = self.app_services.alb
        self.alb_listener_port = self.app_services.listener_port
        self.cluster = self.app_services.cluster
        self.services = self.app_services.services
        self.api_target_group = self.app_services.api_target_group

        CfnOutput(
            self,
            "AlbDnsName",
            value=self.alb.load_balancer_dns_name,
            description="DNS name of the internal API load balancer (CloudFront's VPC origin)",
        )
