"""ECS cluster, ALB, and the api and worker Fargate services of one environment."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.model import ServiceConfig
from infra.access_logs import AccessLogBucket
from infra.compliance import acknowledge_nag, acknowledge_wildcards, skip_checkov
from infra.data.database import PORT as DATABASE_PORT
from infra.data.database import Database
from infra.escape_hatch import cfn_resource
from infra.images import ServiceImage
from infra.messaging.queues import WorkQueue
from infra.replacement import load_balancer_identity
from infra.retention import retention_days
from infra.services.cloudfront_origin import cloudfront_origin_facing

# The dimensions the api's relay logs its EMF metrics with (todo_api.relay.METRICS_DIMENSIONS).
OUTBOX_METRIC_DIMENSIONS = {"Service": "todo-api"}

API_PORT = 8000
HEALTH_PATH = "/api/health"
# What CloudFront's VPC origin connects to: plain HTTP inside the VPC (see ORIGIN_TRANSPORT).
ALB_LISTENER_PORT = 80
ORIGIN_TRANSPORT = (
    "CloudFront reaches this internal ALB only through its VPC origin: the hop runs inside the "
    "VPC from CloudFront's origin-facing servers (the only source the ALB security group "
    "admits), never over the internet; viewers get HTTPS only. HTTPS here would need a "
    "certificate for a name that nothing resolves and a DNS validation record nothing creates"
)
# Shutdown, tuned together. On a deployment or scale-in the ALB stops sending new requests
# and waits DEREGISTRATION_DELAY for in-flight ones; at the same time ECS sends SIGTERM and
# the app drains for at most its SHUTDOWN_TIMEOUT, then exits. ECS sends SIGKILL only after
# STOP_TIMEOUT, which leaves 10 s of margin over the drain; the deregistration delay equals
# the stop timeout so the target is not reported drained before the process has finished.
SHUTDOWN_TIMEOUT = Duration.seconds(20)
STOP_TIMEOUT = Duration.seconds(30)
DEREGISTRATION_DELAY = Duration.seconds(30)
# Deployment alarms: a new task set that raises these rolls back automatically.
TARGET_5XX_THRESHOLD = 5
P99_LATENCY_SECONDS = 2
WORKER_BACKLOG_AGE_SECONDS = 600


class Services(Construct):
    """Fargate services behind an internal ALB that only CloudFront's VPC origin reaches.

    The ALB has no public address (private subnets, internal scheme) and its security group
    admits only CloudFront's origin-facing servers, so WAF on CloudFront cannot be bypassed
    and no shared secret has to be kept or rotated.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_topic_name: str,
        health_alarm_prefix: str,
        vpc: ec2.IVpc,
        data: Database,
        messaging: WorkQueue,
        images: Mapping[str, ServiceImage],
        api: ServiceConfig,
        worker: ServiceConfig,
        log_retention_days: int,
        log_key: kms.IKey,
        protect_data: bool,
        metrics_namespace: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.metrics_namespace = metrics_namespace
        # Set below when the api runs: its outbox relay reports the publication backlog.
        self.outbox_backlog_age: cloudwatch.Metric | None = None
        removal_policy = (
            RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if protect_data else RemovalPolicy.DESTROY
        )
        self._log_key = log_key
        self._log_retention_days = log_retention_days
        self._removal_policy = removal_policy
        # The deployment alarms are health alarms: named under the prefix the bake watches.
        self._health_alarm_prefix = health_alarm_prefix
        # The alarm topic lives in the observability stack, which reads this stack's metrics;
        # the deployment alarms reach it by its fixed name, so neither stack imports the other.
        self.alarm_topic = sns.Topic.from_topic_arn(
            self,
            "AlarmTopic",
            Stack.of(self).format_arn(service="sns", resource=alarm_topic_name),
        )
        # Staging and prod replace tasks without ever dropping below the desired count.
        self._min_healthy_percent = 100 if protect_data else 50

        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            enable_fargate_capacity_providers=True,
        )
        self._load_balancer(vpc=vpc, protect_data=protect_data, removal_policy=removal_policy)

        environment = _shared_environment(data, messaging)
        self.services: dict[str, ecs.FargateService] = {}
        self.task_security_groups: dict[str, ec2.SecurityGroup] = {}
        self.deployment_alarms: dict[str, list[cloudwatch.Alarm]] = {}
        if "api" in images:
            self._api_service(
                image=images["api"],
                size=api,
                vpc=vpc,
                environment=environment,
                data=data,
                messaging=messaging,
            )
        if "worker" in images:
            self._worker_service(
                image=images["worker"],
                size=worker,
                vpc=vpc,
                environment=environment,
                data=data,
                messaging=messaging,
            )

    def _api_service(
        self,
        *,
        image: ServiceImage,
        size: ServiceConfig,
        vpc: ec2.IVpc,
        environment: Mapping[str, str],
        data: Database,
        messaging: WorkQueue,
    ) -> None:
        """The api behind the ALB's target group, scaled on CPU and requests per target."""
        alarms = self._api_deployment_alarms()
        service = self._service(
            "Api",
            image=image,
            size=size,
            vpc=vpc,
            environment={
                **environment,
                "METRICS_NAMESPACE": self.metrics_namespace,
                "API_PORT": str(API_PORT),
                "API_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT.to_seconds()),
            },
            port=API_PORT,
            health_command=None,
            alarms=alarms,
            data=data,
        )
        self.outbox_backlog_age = cloudwatch.Metric(
            namespace=self.metrics_namespace,
            metric_name="OutboxOldestPendingAgeSeconds",
            dimensions_map=OUTBOX_METRIC_DIMENSIONS,
            statistic="Maximum",
            period=Duration.minutes(5),
        )
        _grant_api(service.task_definition.task_role, data=data, messaging=messaging)
        service.attach_to_application_target_group(self.api_target_group)
        self.alb_security_group.add_egress_rule(
            self.task_security_groups["api"], ec2.Port.tcp(API_PORT), "to the api tasks"
        )
        scaling = service.auto_scale_task_count(
            min_capacity=size.min_tasks, max_capacity=size.max_tasks
        )
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=60,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )
        scaling.scale_on_request_count(
            "Requests",
            requests_per_target=500,
            target_group=self.api_target_group,
            scale_in_cooldown=Duration.seconds(300),
            scale_out_cooldown=Duration.seconds(60),
        )
        self.deployment_alarms["api"] = alarms

    def _api_deployment_alarms(self) -> list[cloudwatch.Alarm]:
        return [
            self._alarm(
                "ApiTarget5xx",
                "api-target-5xx",
                self.api_target_group.metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT,
                    period=Duration.minutes(1),
                    statistic="Sum",
                ),
                threshold=TARGET_5XX_THRESHOLD,
                description="api targets answer 5xx (rolls a deployment back)",
            ),
            self._alarm(
                "ApiLatencyP99",
                "api-latency-p99",
                self.api_target_group.metrics.target_response_time(
                    period=Duration.minutes(1), statistic="p99"
                ),
                threshold=P99_LATENCY_SECONDS,
                description="api p99 latency above 2 s (rolls a deployment back)",
            ),
        ]

    def _worker_service(
        self,
        *,
        image: ServiceImage,
        size: ServiceConfig,
        vpc: ec2.IVpc,
        environment: Mapping[str, str],
        data: Database,
        messaging: WorkQueue,
    ) -> None:
        """The queue's consumer, step-scaled on the visible backlog."""
        alarms = [
            self._alarm(
                "WorkerBacklogAge",
                "worker-backlog-age",
                messaging.queue.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=WORKER_BACKLOG_AGE_SECONDS,
                description="queue not drained for 10 minutes (rolls a deployment back)",
            ),
        ]
        service = self._service(
            "Worker",
            image=image,
            size=size,
            vpc=vpc,
            environment={
                **environment,
                "WORKER_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT.to_seconds()),
            },
            port=None,
            health_command=["CMD", "python", "-m", "todo_worker.health"],
            alarms=alarms,
            data=data,
        )
        _grant_worker(service.task_definition.task_role, data=data, messaging=messaging)
        scaling = service.auto_scale_task_count(
            min_capacity=size.min_tasks, max_capacity=size.max_tasks
        )
        scaling.scale_on_metric(
            "QueueDepth",
            metric=messaging.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            scaling_steps=[
                {"upper": 0, "change": -1},
                {"lower": 100, "change": +1},
                {"lower": 500, "change": +3},
            ],
            cooldown=Duration.seconds(120),
        )
        self.deployment_alarms["worker"] = alarms

    def _load_balancer(
        self, *, vpc: ec2.IVpc, protect_data: bool, removal_policy: RemovalPolicy
    ) -> None:
        """The internal ALB, its access logs, the api target group and the CloudFront-only rule."""
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

        self.api_target_group = api_target_group(self, vpc=vpc, load_balancer=self.alb)
        self.listener_port = ALB_LISTENER_PORT
        self.listener = self.alb.add_listener(
            "Http",
            port=ALB_LISTENER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,
            default_action=elbv2.ListenerAction.forward([self.api_target_group]),
        )
        skip_checkov(self.listener, "CKV_AWS_2", ORIGIN_TRANSPORT)
        skip_checkov(self.listener, "CKV_AWS_103", ORIGIN_TRANSPORT)
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

    @property
    def all_deployment_alarms(self) -> list[cloudwatch.Alarm]:
        return [alarm for alarms in self.deployment_alarms.values() for alarm in alarms]

    def _alarm(
        self,
        construct_id: str,
        health_name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self._health_alarm_prefix}{health_name}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        alarm.add_ok_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        return alarm

    def _service(
        self,
        name: str,
        *,
        image: ServiceImage,
        size: ServiceConfig,
        vpc: ec2.IVpc,
        environment: dict[str, str],
        port: int | None,
        health_command: list[str] | None,
        alarms: list[cloudwatch.Alarm],
        data: Database,
    ) -> ecs.FargateService:
        """One Fargate service: its task, its security group, rolled back on its alarms."""
        task_definition = self._task_definition(
            name,
            image=image,
            size=size,
            environment=environment,
            port=port,
            health_command=health_command,
        )
        security_group = self._task_security_group(name, vpc=vpc, data=data)
        service = ecs.FargateService(
            self,
            f"{name}Service",
            cluster=self.cluster,
            task_definition=task_definition,
            desired_count=size.min_tasks,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[security_group],
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            deployment_alarms=ecs.DeploymentAlarmConfig(
                alarm_names=[alarm.alarm_name for alarm in alarms],
                behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM,
            ),
            min_healthy_percent=self._min_healthy_percent,
            max_healthy_percent=200,
            health_check_grace_period=Duration.seconds(60) if port else None,
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(
                    capacity_provider="FARGATE_SPOT" if size.spot else "FARGATE", weight=1
                )
            ],
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_ecs_managed_tags=True,
            platform_version=ecs.FargatePlatformVersion.LATEST,
        )
        self.services[name.lower()] = service
        _explain_execution_policy(task_definition)
        return service

    def _task_definition(
        self,
        name: str,
        *,
        image: ServiceImage,
        size: ServiceConfig,
        environment: dict[str, str],
        port: int | None,
        health_command: list[str] | None,
    ) -> ecs.FargateTaskDefinition:
        """The task: one container on a read-only root filesystem with a scratch /tmp."""
        task_definition = ecs.FargateTaskDefinition(
            self,
            f"{name}Task",
            cpu=size.cpu,
            memory_limit_mib=size.memory,
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
                cpu_architecture=ecs.CpuArchitecture.X86_64,
            ),
        )
        container = self._container(
            task_definition,
            name,
            image=image,
            environment=environment,
            port=port,
            health_command=health_command,
        )
        acknowledge_nag(
            task_definition,
            "AwsSolutions-ECS2",
            "the variables are identifiers only (secret ARN, proxy host, queue URL, timeouts); "
            "the app reads the credentials from Secrets Manager with its task role",
        )
        # The only writable path: a task-local scratch volume at /tmp.
        task_definition.add_volume(name="tmp")
        container.add_mount_points(
            # The task's own scratch volume (the root filesystem is read-only).
            ecs.MountPoint(
                container_path="/tmp",  # noqa: S108 # nosec B108
                source_volume="tmp",
                read_only=False,
            )
        )
        return task_definition

    def _container(
        self,
        task_definition: ecs.FargateTaskDefinition,
        name: str,
        *,
        image: ServiceImage,
        environment: dict[str, str],
        port: int | None,
        health_command: list[str] | None,
    ) -> ecs.ContainerDefinition:
        """The service's container: its image from ECR, its logs in its own log group."""
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            retention=retention_days(self._log_retention_days),
            encryption_key=self._log_key,
            removal_policy=self._removal_policy,
        )
        repository = ecr.Repository.from_repository_attributes(
            self,
            f"{name}Repository",
            repository_arn=image.repository_arn,
            repository_name=image.repository_name,
        )
        return task_definition.add_container(
            name.lower(),
            image=ecs.ContainerImage.from_ecr_repository(repository, tag=image.tag),
            essential=True,
            environment=environment,
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix=name.lower(),
                log_group=log_group,
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
            ),
            readonly_root_filesystem=True,
            stop_timeout=STOP_TIMEOUT,
            port_mappings=[ecs.PortMapping(container_port=port)] if port else None,
            health_check=_container_health_check(health_command),
        )

    def _task_security_group(
        self, name: str, *, vpc: ec2.IVpc, data: Database
    ) -> ec2.SecurityGroup:
        """The tasks' security group, and its way in to the database proxy."""
        security_group = ec2.SecurityGroup(
            self,
            f"{name}SecurityGroup",
            vpc=vpc,
            description=f"{name} tasks: HTTPS out (AWS APIs, ECR) and PostgreSQL to the proxy",
            allow_all_outbound=True,
        )
        # The rule lives here, in the stack that depends on the data stack (no cycle).
        ec2.CfnSecurityGroupIngress(
            self,
            f"{name}ToProxy",
            group_id=data.proxy_security_group.security_group_id,
            source_security_group_id=security_group.security_group_id,
            ip_protocol="tcp",
            from_port=DATABASE_PORT,
            to_port=DATABASE_PORT,
            description=f"PostgreSQL from the {name.lower()} tasks",
        )
        self.task_security_groups[name.lower()] = security_group
        return security_group


def _shared_environment(data: Database, messaging: WorkQueue) -> dict[str, str]:
    """The settings both services read: where the database and the queue are."""
    return {
        "DATABASE_SECRET_ARN": data.secret.secret_arn,
        "DATABASE_HOST": data.proxy.endpoint,
        "DATABASE_SSLMODE": "verify-full",
        "QUEUE_URL": messaging.queue.queue_url,
    }


def _container_health_check(command: list[str] | None) -> ecs.HealthCheck | None:
    """The container's own health command (the api has the load balancer's check instead)."""
    if not command:
        return None
    return ecs.HealthCheck(
        command=command,
        interval=Duration.seconds(30),
        timeout=Duration.seconds(5),
        retries=3,
        start_period=Duration.seconds(15),
    )


def _explain_execution_policy(task_definition: ecs.FargateTaskDefinition) -> None:
    execution_role = task_definition.execution_role
    if execution_role is None:
        return
    policy = execution_role.node.try_find_child("DefaultPolicy")
    if policy is not None:
        acknowledge_wildcards(
            cfn_resource(policy, iam.CfnPolicy),
            "ecr:GetAuthorizationToken has no resource-level permission; image pulls "
            "are limited to this service's repository by the other statements",
        )


def api_target_group(
    scope: Construct, *, vpc: ec2.IVpc, load_balancer: elbv2.ApplicationLoadBalancer
) -> elbv2.ApplicationTargetGroup:
    """The api's target group, replaced together with its load balancer.

    A target group serves one load balancer at a time: when the ALB is replaced, the new ALB's
    listener cannot take over the old group while the old listener still holds it
    (TargetGroupAssociationLimit) and the update rolls back. Its construct id follows the
    ALB's identity, so CloudFormation creates a new group alongside the new ALB.
    https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/780
    """
    return elbv2.ApplicationTargetGroup(
        scope,
        f"ApiTargetGroup{load_balancer_identity(load_balancer)}",
        vpc=vpc,
        port=API_PORT,
        protocol=elbv2.ApplicationProtocol.HTTP,
        target_type=elbv2.TargetType.IP,
        deregistration_delay=DEREGISTRATION_DELAY,
        health_check=elbv2.HealthCheck(
            path=HEALTH_PATH,
            healthy_http_codes="200",
            interval=Duration.seconds(15),
            timeout=Duration.seconds(5),
            healthy_threshold_count=2,
            unhealthy_threshold_count=3,
        ),
    )


def _grant_api(role: iam.IRole, *, data: Database, messaging: WorkQueue) -> None:
    """The database secret, and sending to the queue: the outbox relay runs in the api."""
    _grant_secret_read(role, data)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["sqs:SendMessage", "sqs:GetQueueAttributes"],
            resources=[messaging.queue.queue_arn],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[messaging.key.key_arn],
        )
    )


def _grant_worker(role: iam.IRole, *, data: Database, messaging: WorkQueue) -> None:
    """The database secret, and consuming the queue."""
    _grant_secret_read(role, data)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            resources=[messaging.queue.queue_arn],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["kms:Decrypt"], resources=[messaging.key.key_arn])
    )


def _grant_secret_read(role: iam.IRole, data: Database) -> None:
    """Read exactly the database secret (policies on the role: the data stack stays unaware)."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            resources=[data.secret.secret_arn],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:Decrypt"],
            resources=[data.key.key_arn],
            conditions={
                "StringEquals": {
                    "kms:ViaService": f"secretsmanager.{Stack.of(data).region}.amazonaws.com"
                }
            },
        )
    )
