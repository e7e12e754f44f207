"""ECS cluster, ALB, and the api and worker Fargate services of one environment."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.access_logs import AccessLogBucket
from infra.compliance import acknowledge_nag, acknowledge_wildcards, skip_checkov
from infra.data.database import PORT as DATABASE_PORT
from infra.data.database import Database
from infra.escape_hatch import cfn_resource
from infra.messaging.queues import WorkQueue
from infra.retention import retention_days
from pipeline.config import AlbConfig, ServiceConfig
from pipeline.images import ServiceImage

# The dimensions the api's relay logs its EMF metrics with (todo_api.relay.METRICS_DIMENSIONS).
OUTBOX_METRIC_DIMENSIONS = {"Service": "todo-api"}

API_PORT = 8000
HEALTH_PATH = "/api/health"
ORIGIN_HEADER = "X-Origin-Verify"
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


def alarm_topic_name(prefix: str) -> str:
    """The environment's alarm topic, created by the observability stack under this name."""
    return f"{prefix}-alarms"


class Services(Construct):
    """Fargate services behind an ALB that only CloudFront (holding the origin secret) passes.

    The ALB's listener answers 403 unless the request carries the X-Origin-Verify header with
    the secret value CloudFront adds as a custom origin header, so WAF on CloudFront cannot be
    bypassed by calling the ALB directly.
    """

    def __init__(  # noqa: PLR0915 - one environment's services, wired in one place
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
        alb: AlbConfig,
        log_retention_days: int,
        log_key: kms.IKey,
        protect_data: bool,
        metrics_namespace: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.metrics_namespace = metrics_namespace
        # Set below when the api runs: its outbox relay reports the publication backlog.
        self.outbox_backlog_age: cloudwatch.Metric | None = None
        removal_policy = RemovalPolicy.RETAIN if protect_data else RemovalPolicy.DESTROY
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
            stack.format_arn(service="sns", resource=alarm_topic_name),
        )
        # Staging and prod replace tasks without ever dropping below the desired count.
        min_healthy_percent = 100 if protect_data else 50

        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            enable_fargate_capacity_providers=True,
        )

        # ------------------------------------------------------------ origin protection
        self.secrets_key = kms.Key(
            self,
            "SecretsKey",
            description=f"Encrypts the CloudFront origin secret of {stack.stack_name}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.origin_verify_secret = secretsmanager.Secret(
            self,
            "OriginVerifySecret",
            description=f"{stack.stack_name}: {ORIGIN_HEADER} value CloudFront sends to the ALB",
            encryption_key=self.secrets_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=48
            ),
            removal_policy=removal_policy,
        )
        acknowledge_nag(
            self.origin_verify_secret,
            "AwsSolutions-SMG4",
            "a shared header value, not a credential: CloudFront resolves it at deploy time, "
            "so a new value is rolled out by redeploying both stacks; WAF and TLS protect it",
        )

        # ------------------------------------------------------------ load balancer
        self.alb_security_group = ec2.SecurityGroup(
            self,
            "AlbSecurityGroup",
            vpc=vpc,
            description="ALB: HTTP(S) from CloudFront (origin secret checked by the listener)",
            allow_all_outbound=False,
        )
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=self.alb_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=protect_data,
            idle_timeout=Duration.seconds(60),
        )
        self.access_logs = AccessLogBucket(
            self, "AccessLogs", expiration=Duration.days(90), removal_policy=removal_policy
        )
        self.alb.log_access_logs(self.access_logs.bucket, prefix="alb")

        self.api_target_group = elbv2.ApplicationTargetGroup(
            self,
            "ApiTargetGroup",
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
        self.api_origin_https = alb.certificate_arn is not None
        listener_port = 443 if self.api_origin_https else 80
        if alb.certificate_arn is not None:
            self.listener = self.alb.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[
                    acm.Certificate.from_certificate_arn(self, "Certificate", alb.certificate_arn)
                ],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                open=False,
                default_action=_forbidden(),
            )
            redirect = self.alb.add_redirect(source_port=80, target_port=443, open=False)
            self.alb_security_group.add_ingress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP, redirected to HTTPS"
            )
            _ = redirect
        else:
            self.listener = self.alb.add_listener(
                "Http",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                open=False,
                default_action=_forbidden(),
            )
            skip_checkov(
                self.listener,
                "CKV_AWS_2",
                "dev has no certificate by config: CloudFront terminates viewer TLS and the "
                "origin secret header gates the listener; staging and prod listen on HTTPS",
            )
            skip_checkov(
                self.listener,
                "CKV_AWS_103",
                "dev has no certificate by config: CloudFront terminates viewer TLS and the "
                "origin secret header gates the listener; staging and prod use TLS 1.2+",
            )
        self.alb_security_group.add_ingress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(listener_port), "from CloudFront (origin secret)"
        )
        acknowledge_nag(
            self.alb_security_group,
            "AwsSolutions-EC23",
            "CloudFront's origin-facing ranges are a regional prefix list that synth cannot "
            "look up; the listener answers 403 to any request without the origin secret header",
        )
        skip_checkov(
            self.alb_security_group,
            "CKV_AWS_260",
            "CloudFront origin-facing addresses are a prefix list synth cannot look up; port 80 "
            "only redirects to HTTPS or (dev) answers 403 without the origin secret header",
        )
        elbv2.ApplicationListenerRule(
            self,
            "FromCloudFront",
            listener=self.listener,
            priority=10,
            conditions=[
                elbv2.ListenerCondition.http_header(
                    ORIGIN_HEADER,
                    [self.origin_verify_secret.secret_value.unsafe_unwrap()],
                )
            ],
            action=elbv2.ListenerAction.forward([self.api_target_group]),
        )
        self.api_origin_domain = alb.origin_domain or self.alb.load_balancer_dns_name

        # ------------------------------------------------------------ services
        environment = {
            "DATABASE_SECRET_ARN": data.secret.secret_arn,
            "DATABASE_HOST": data.proxy.endpoint,
            "DATABASE_SSLMODE": "verify-full",
            "QUEUE_URL": messaging.queue.queue_url,
        }
        self.services: dict[str, ecs.FargateService] = {}
        self.task_security_groups: dict[str, ec2.SecurityGroup] = {}
        self.deployment_alarms: dict[str, list[cloudwatch.Alarm]] = {}

        if "api" in images:
            api_alarms = [
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
            api_service = self._service(
                "Api",
                image=images["api"],
                size=api,
                vpc=vpc,
                environment={
                    **environment,
                    "METRICS_NAMESPACE": metrics_namespace,
                    "API_PORT": str(API_PORT),
                    "API_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT.to_seconds()),
                },
                port=API_PORT,
                health_command=None,
                alarms=api_alarms,
                min_healthy_percent=min_healthy_percent,
                data=data,
            )
            api_role = api_service.task_definition.task_role
            self.outbox_backlog_age = cloudwatch.Metric(
                namespace=metrics_namespace,
                metric_name="OutboxOldestPendingAgeSeconds",
                dimensions_map=OUTBOX_METRIC_DIMENSIONS,
                statistic="Maximum",
                period=Duration.minutes(5),
            )
            _grant_secret_read(api_role, data)
            # The outbox relay in the api process publishes to the queue.
            api_role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["sqs:SendMessage", "sqs:GetQueueAttributes"],
                    resources=[messaging.queue.queue_arn],
                )
            )
            api_role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[messaging.key.key_arn],
                )
            )
            api_service.attach_to_application_target_group(self.api_target_group)
            self.alb_security_group.add_egress_rule(
                self.task_security_groups["api"], ec2.Port.tcp(API_PORT), "to the api tasks"
            )
            scaling = api_service.auto_scale_task_count(
                min_capacity=api.min_tasks, max_capacity=api.max_tasks
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
            self.deployment_alarms["api"] = api_alarms

        if "worker" in images:
            worker_alarms = [
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
            worker_service = self._service(
                "Worker",
                image=images["worker"],
                size=worker,
                vpc=vpc,
                environment={
                    **environment,
                    "WORKER_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT.to_seconds()),
                },
                port=None,
                health_command=["CMD", "python", "-m", "todo_worker.health"],
                alarms=worker_alarms,
                min_healthy_percent=min_healthy_percent,
                data=data,
            )
            worker_role = worker_service.task_definition.task_role
            _grant_secret_read(worker_role, data)
            worker_role.add_to_principal_policy(
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
            worker_role.add_to_principal_policy(
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[messaging.key.key_arn])
            )
            scaling = worker_service.auto_scale_task_count(
                min_capacity=worker.min_tasks, max_capacity=worker.max_tasks
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
            self.deployment_alarms["worker"] = worker_alarms

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
        min_healthy_percent: int,
        data: Database,
    ) -> ecs.FargateService:
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
        container = task_definition.add_container(
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
            health_check=(
                ecs.HealthCheck(
                    command=health_command,
                    interval=Duration.seconds(30),
                    timeout=Duration.seconds(5),
                    retries=3,
                    start_period=Duration.seconds(15),
                )
                if health_command
                else None
            ),
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
            min_healthy_percent=min_healthy_percent,
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
        execution_policy = task_definition.execution_role
        if execution_policy is not None:
            policy = execution_policy.node.try_find_child("DefaultPolicy")
            if policy is not None:
                acknowledge_wildcards(
                    cfn_resource(policy, iam.CfnPolicy),
                    "ecr:GetAuthorizationToken has no resource-level permission; image pulls "
                    "are limited to this service's repository by the other statements",
                )
        return service


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


def _forbidden() -> elbv2.ListenerAction:
    return elbv2.ListenerAction.fixed_response(
        403, content_type="text/plain", message_body="Forbidden"
    )
