"""The services stack of one environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from config.model import Registry, ServiceSize
from infra.data import DataStack
from infra.environment_stack import EnvironmentStack
from infra.images import ServiceImage
from infra.messaging import MessagingStack
from infra.services.service import EventTopic
from infra.services.services import Services


class ServicesStack(EnvironmentStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        alarm_topic_name: str,
        health_alarm_prefix: str,
        vpc: ec2.IVpc,
        data: DataStack,
        messaging: MessagingStack,
        registry: Registry,
        sizes: Mapping[str, ServiceSize],
        images: Mapping[str, ServiceImage],
        log_retention_days: int,
        log_key: kms.IKey,
        protect_data: bool,
        metrics_namespace: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.fleet = Services(
            self,
            "Services",
            project=project,
            alarm_topic_name=alarm_topic_name,
            health_alarm_prefix=health_alarm_prefix,
            vpc=vpc,
            data=data.database,
            queues=messaging.queues,
            events=EventTopic(topic=messaging.topic, key=messaging.topic_key),
            registry=registry,
            sizes=sizes,
            images=images,
            log_retention_days=log_retention_days,
            log_key=log_key,
            protect_data=protect_data,
            metrics_namespace=metrics_namespace,
        )
        # What the frontend (CloudFront's VPC origin) builds against.
        self.alb = self.fleet.alb
        self.alb_listener_port = self.fleet.listener_port

        CfnOutput(
            self,
            "AlbDnsName",
            value=self.alb.load_balancer_dns_name,
            description="DNS name of the internal load balancer (CloudFront's VPC origin)",
        )
