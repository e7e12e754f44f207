"""One environment of the application, as the pipeline deploys it."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Environment, RemovalPolicy, Stage, Tags
from constructs import Construct

from infra.data import DataStack
from infra.messaging import MessagingStack
from infra.network import NetworkStack
from infra.observability import ObservabilityStack
from infra.services import ServicesStack, alarm_topic_name
from pipeline.config import EnvironmentConfig, ProjectConfig
from pipeline.images import ServiceImage


class EnvironmentStage(Stage):
    """Every stack of one environment (dev, staging, prod...) with its account and region."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: ProjectConfig,
        environment: EnvironmentConfig,
        images: Mapping[str, ServiceImage],
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=environment.account, region=environment.region),
        )
        prefix = f"{project.name}-{environment.name}"
        removal_policy = RemovalPolicy.RETAIN if environment.protect_data else RemovalPolicy.DESTROY
        # Images live in the pipeline account's repositories; every stage pulls the same URIs.
        self.images = images

        self.network = NetworkStack(
            self,
            "Network",
            stack_name=f"{prefix}-network",
            description=f"{project.name} {environment.name}: VPC, subnets, NAT, flow logs",
            termination_protection=environment.termination_protection,
            cidr=environment.network.cidr,
            max_azs=environment.network.max_azs,
            nat_gateways=environment.network.nat_gateways,
            flow_log_retention_days=environment.network.flow_log_retention_days,
            removal_policy=removal_policy,
        )
        self.messaging = MessagingStack(
            self,
            "Messaging",
            stack_name=f"{prefix}-messaging",
            description=f"{project.name} {environment.name}: work queue and dead-letter queue",
            termination_protection=environment.termination_protection,
            max_receive_count=environment.queue.max_receive_count,
            removal_policy=removal_policy,
        )
        self.data = DataStack(
            self,
            "Data",
            stack_name=f"{prefix}-data",
            description=f"{project.name} {environment.name}: Aurora PostgreSQL, RDS Proxy, secret",
            termination_protection=environment.termination_protection,
            vpc=self.network.network.vpc,
            database=environment.database,
            log_retention_days=environment.log_retention_days,
            log_key=self.network.log_key,
            protect_data=environment.protect_data,
        )
        self.services = ServicesStack(
            self,
            "Services",
            stack_name=f"{prefix}-services",
            description=f"{project.name} {environment.name}: ECS cluster, ALB, api and worker",
            termination_protection=environment.termination_protection,
            alarm_topic_name=alarm_topic_name(prefix),
            vpc=self.network.network.vpc,
            data=self.data,
            messaging=self.messaging,
            images=images,
            api=environment.api,
            worker=environment.worker,
            alb=environment.alb,
            log_retention_days=environment.log_retention_days,
            log_key=self.network.log_key,
            protect_data=environment.protect_data,
        )
        self.observability = ObservabilityStack(
            self,
            "Observability",
            stack_name=f"{prefix}-observability",
            description=f"{project.name} {environment.name}: alarm topic, dashboard, alarms",
            termination_protection=environment.termination_protection,
            topic_name=alarm_topic_name(prefix),
            emails=environment.alarms.emails,
            data=self.data,
            messaging=self.messaging,
            services=self.services,
        )

        # Cost allocation: every taggable resource of the environment carries these.
        for key, value in {
            "project": project.name,
            "environment": environment.name,
            "owner": project.owner,
            "cost-center": project.cost_center,
        }.items():
            # The proxy target group accepts no tags (CloudFormation rejects the property).
            Tags.of(self).add(key, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])
