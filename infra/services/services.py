"""ECS cluster, the internal ALB, and one Fargate service per entry of the service registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.model import (
    ConsumerService,
    HttpService,
    Registry,
    ServiceSize,
    TrafficShift,
    http_service_of,
)
from infra.access_logs import AccessLogBucket
from infra.compliance import skip_checkov
from infra.data.database import Database
from infra.images import ServiceImage
from infra.messaging.queues import WorkQueue
from infra.replacement import load_balancer_identity
from infra.retention import retention_days
from infra.services.cloudfront_origin import cloudfront_origin_facing
from infra.services.deployment_hook.construct import DeploymentHook
from infra.services.deployment_hook.runtime.deployed_checks.hook import (
    TEST_HEADER,
    TEST_HEADER_VALUE,
)
from infra.services.service import (
    DEREGISTRATION_DELAY,
    BlueGreenRoutes,
    EventTopic,
    Service,
    ServiceContext,
)

# What CloudFront's VPC origin connects to: plain HTTP inside the VPC (see ORIGIN_TRANSPORT).
ALB_LISTENER_PORT = 80
# The blue/green test route: a second listener that only the deployment hook's security group
# reaches (CloudFront's origin-facing servers are admitted on ALB_LISTENER_PORT only).
TEST_LISTENER_PORT = 8080
# ECS moves these rules' traffic between the blue and the green target group. ECS refuses a
# listener mixing forward with other actions, so every rule and default action forwards.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html
ROUTE_PRIORITY = 10
ORIGIN_TRANSPORT = (
    "CloudFront reaches this internal ALB only through its VPC origin: the hop runs inside the "
    "VPC from CloudFront's origin-facing servers (the only source the ALB security group "
    "admits), never over the internet; viewers get HTTPS only. HTTPS here would need a "
    "certificate for a name that nothing resolves and a DNS validation record nothing creates"
)
TEST_TRANSPORT = (
    "The blue/green test route is reached only from the deployment hook's function inside "
    "the VPC (the only source its port admits); HTTPS would need a certificate for a name "
    "that nothing resolves"
)


class Services(Construct):
    """Fargate services behind an internal ALB that only CloudFront's VPC origin reaches.

    One :class:`Service` per registry entry, in registry order. The ALB has no public address
    (private subnets, internal scheme) and its security group admits only CloudFront's
    origin-facing servers, so WAF on CloudFront cannot be bypassed and no shared secret has
    to be kept or rotated.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project: str,
        alarm_topic_name: str,
        health_alarm_prefix: str,
        vpc: ec2.IVpc,
        data: Database,
        queues: Mapping[str, WorkQueue],
        events: EventTopic,
        registry: Registry,
        sizes: Mapping[str, ServiceSize],
        traffic_shift: TrafficShift,
        # The environment's post-deploy check markers: the hook runs those it can.
        checks: Sequence[str],
        images: Mapping[str, ServiceImage],
        log_retention_days: int,
        log_key: kms.IKey,
        protect_data: bool,
        metrics_namespace: str,
        # The share of new traces every service keeps (docs/tracing.md).
        trace_sample_ratio: float,
    ) -> None:
        super().__init__(scope, construct_id)
        self.metrics_namespace = metrics_namespace
        removal_policy = (
            RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if protect_data else RemovalPolicy.DESTROY
        )
        self._log_key = log_key
        self._log_retention_days = log_retention_days
        # The alarm topic belongs to Monitoring, which reads these services' metrics; the
        # deployment alarms reach it by its fixed name, so neither construct needs the other.
        alarm_topic = sns.Topic.from_topic_arn(
            self,
            "AlarmTopic",
            Stack.of(self).format_arn(service="sns", resource=alarm_topic_name),
        )
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            enable_fargate_capacity_providers=True,
        )
        http_name, http_spec = http_service_of(registry)
        self.http_service_name = http_name
        self._load_balancer(
            vpc=vpc, spec=http_spec, protect_data=protect_data, removal_policy=removal_policy
        )
        self.deployment_hook = DeploymentHook(
            self,
            "DeploymentHook",
            vpc=vpc,
            test_url=f"http://{self.alb.load_balancer_dns_name}:{TEST_LISTENER_PORT}",
            checks=checks,
            log_key=log_key,
            log_retention_days=log_retention_days,
            removal_policy=removal_policy,
        )
        self.deployment_hook.security_group.connections.allow_to(
            self.alb_security_group,
            ec2.Port.tcp(TEST_LISTENER_PORT),
            "the blue/green test route",
        )
        self._routes = BlueGreenRoutes(
            load_balancer=self.alb,
            green_target_group=self.green_target_group,
            production_rule=self.production_rule,
            test_rule=self.test_rule,
            hook=self.deployment_hook.function,
            traffic_shift=traffic_shift,
        )
        context = ServiceContext(
            project=project,
            cluster=self.cluster,
            vpc=vpc,
            metrics_namespace=metrics_namespace,
            log_key=log_key,
            log_retention_days=log_retention_days,
            removal_policy=removal_policy,
            min_healthy_percent=100 if protect_data else 50,
            health_alarm_prefix=health_alarm_prefix,
            alarm_topic=alarm_topic,
            trace_sample_ratio=trace_sample_ratio,
        )
        self.members: dict[str, Service] = {}
        # The outbox backlog of every publisher, from the EMF metrics its relay logs.
        self.outbox_backlog_ages: dict[str, cloudwatch.Metric] = {}
        for name, spec in registry.items():
            if name not in images:
                # service_images refuses a registered service without a Dockerfile already.
                raise ValueError(f"service {name!r} is registered but has no image")
            self._add_service(
                name,
                spec=spec,
                size=sizes[name],
                image=images[name],
                context=context,
                data=data,
                queue=queues.get(name),
                events=events,
            )

    def _add_service(
        self,
        name: str,
        *,
        spec: HttpService | ConsumerService,
        size: ServiceSize,
        image: ServiceImage,
        context: ServiceContext,
        data: Database,
        queue: WorkQueue | None,
        events: EventTopic,
    ) -> None:
        service = Service(
            self,
            name.capitalize(),
            name=name,
            spec=spec,
            size=size,
            image=image,
            context=context,
            database=data if spec.database else None,
            queue=queue,
            events=events if spec.publishes_events else None,
            target_group=self.http_target_group if isinstance(spec, HttpService) else None,
            blue_green=self._routes if isinstance(spec, HttpService) else None,
        )
        self.members[name] = service
        if isinstance(spec, HttpService):
            self.alb_security_group.add_egress_rule(
                service.security_group,
                ec2.Port.tcp(spec.port),
                f"to the {name} tasks",
            )
        if spec.publishes_events:
            self.outbox_backlog_ages[name] = cloudwatch.Metric(
                namespace=self.metrics_namespace,
                metric_name="OutboxOldestPendingAgeSeconds",
                dimensions_map={"Service": context.project + "-" + name},
                statistic="Maximum",
                period=Duration.minutes(5),
            )

    @property
    def fargate_services(self) -> dict[str, ecs.FargateService]:
        """The Fargate service of every registry entry, by name."""
        return {name: service.service for name, service in self.members.items()}

    @property
    def task_security_groups(self) -> dict[str, ec2.SecurityGroup]:
        return {name: service.security_group for name, service in self.members.items()}

    @property
    def deployment_alarms(self) -> dict[str, list[cloudwatch.Alarm]]:
        return {name: service.deployment_alarms for name, service in self.members.items()}

    @property
    def all_deployment_alarms(self) -> list[cloudwatch.Alarm]:
        return [alarm for alarms in self.deployment_alarms.values() for alarm in alarms]

    def _load_balancer(
        self,
        *,
        vpc: ec2.IVpc,
        spec: HttpService,
        protect_data: bool,
        removal_policy: RemovalPolicy,
    ) -> None:
        """The internal ALB, its access logs, the http service's target group, CloudFront's rule."""
        self.alb_security_group = ec2.SecurityGroup(
            self,
            "AlbSecurityGroup",
            vpc=vpc,
            description="Internal ALB: HTTP from the CloudFront VPC origin only",
            allow_all_outbound=False,
        )
        # Internal, in the private subnets: CloudFront's VPC origin places its interfaces in
        # these subnets; the VPC's internet gateway (NAT's) is all it needs from the VPC.
        # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_group=self.alb_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=protect_data,
            idle_timeout=Duration.seconds(60),
        )
        self.access_logs = AccessLogBucket(
            self, "AccessLogs", expiration=Duration.days(90), removal_policy=removal_policy
        )
        self.alb.log_access_logs(self.access_logs.bucket, prefix="alb")

        self.http_target_group = http_target_group(self, vpc=vpc, load_balancer=self.alb, spec=spec)
        self.green_target_group = http_target_group(
            self, vpc=vpc, load_balancer=self.alb, spec=spec, colour="Green"
        )
        self.listener_port = ALB_LISTENER_PORT
        self.listener = self._listener("Http", ALB_LISTENER_PORT, ORIGIN_TRANSPORT)
        self.production_rule = self._route("ProductionRoute", self.listener, spec)
        test_listener = self._listener("Test", TEST_LISTENER_PORT, TEST_TRANSPORT)
        self.test_rule = self._route("TestRoute", test_listener, spec, test_header=True)
        origin_lookup_logs = logs.LogGroup(
            self,
            "OriginLookupLogs",
            retention=retention_days(self._log_retention_days),
            encryption_key=self._log_key,
            removal_policy=removal_policy,
        )
        self.alb_security_group.add_ingress_rule(
            cloudfront_origin_facing(self, "CloudFrontOriginFacing", log_group=origin_lookup_logs),
            ec2.Port.tcp(ALB_LISTENER_PORT),
            "HTTP from CloudFront origin-facing servers (VPC origin)",
        )

    def _listener(self, construct_id: str, port: int, transport: str) -> elbv2.ApplicationListener:
        listener = self.alb.add_listener(
            construct_id,
            port=port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,
            default_action=elbv2.ListenerAction.forward([self.http_target_group]),
        )
        skip_checkov(listener, "CKV_AWS_2", transport)
        skip_checkov(listener, "CKV_AWS_103", transport)
        return listener

    def _route(
        self,
        construct_id: str,
        listener: elbv2.ApplicationListener,
        spec: HttpService,
        *,
        test_header: bool = False,
    ) -> elbv2.ApplicationListenerRule:
        """The http service's path on ``listener``; on the test route, with the test header."""
        conditions = [elbv2.ListenerCondition.path_patterns([spec.path_pattern])]
        if test_header:
            conditions.append(elbv2.ListenerCondition.http_header(TEST_HEADER, [TEST_HEADER_VALUE]))
        return elbv2.ApplicationListenerRule(
            self,
            construct_id,
            listener=listener,
            priority=ROUTE_PRIORITY,
            conditions=conditions,
            # Both groups weighted from the start: ECS registers green's tasks only in a group
            # the load balancer already routes to, and moves the weights itself.
            action=elbv2.ListenerAction.weighted_forward(
                [
                    elbv2.WeightedTargetGroup(target_group=self.http_target_group, weight=100),
                    elbv2.WeightedTargetGroup(target_group=self.green_target_group, weight=0),
                ]
            ),
        )


def http_target_group(
    scope: Construct,
    *,
    vpc: ec2.IVpc,
    load_balancer: elbv2.ApplicationLoadBalancer,
    spec: HttpService,
    colour: str = "",
) -> elbv2.ApplicationTargetGroup:
    """The http service's target group (blue, or ``colour``), replaced with its load balancer.

    A target group serves one load balancer at a time: when the ALB is replaced, the new ALB's
    listener cannot take over the old group while the old listener still holds it
    (TargetGroupAssociationLimit) and the update rolls back. Its construct id follows the
    ALB's identity, so CloudFormation creates a new group alongside the new ALB.
    https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/780
    """
    return elbv2.ApplicationTargetGroup(
        scope,
        f"TargetGroup{colour}{load_balancer_identity(load_balancer)}",
        vpc=vpc,
        port=spec.port,
        protocol=elbv2.ApplicationProtocol.HTTP,
        target_type=elbv2.TargetType.IP,
        deregistration_delay=DEREGISTRATION_DELAY,
        health_check=elbv2.HealthCheck(
            path=spec.health_check_path,
            healthy_http_codes="200",
            interval=Duration.seconds(15),
            timeout=Duration.seconds(5),
            healthy_threshold_count=2,
            unhealthy_threshold_count=3,
        ),
    )
