"""One service of the registry as it runs in one environment: a Fargate service, its task,
its security group, its permissions, its scaling and its deployment alarms.

What a service gets follows from its registry entry (config.model.HttpService or
ConsumerService), never from its name:

- every service: ``SERVICE_NAME`` (``<project>-<name>``), ``METRICS_NAMESPACE`` and
  ``<NAME>_SHUTDOWN_TIMEOUT_SECONDS`` in its environment; a read-only root filesystem with a
  task-local /tmp; its own log group; the circuit breaker and its deployment alarms, both
  rolling a failed deployment back (an http service's deployment is blue/green, below); an
  ADOT collector beside it that sends its traces to X-Ray (``TRACING_*`` in its environment,
  infra/services/tracing.py);
- ``database = true``: the database secret, ``DATABASE_*`` settings and a way in through the
  proxy's security group. Without it the task has neither;
- ``kind = "http"``: ``<NAME>_PORT``, the load balancer's blue and green target groups and
  ECS native blue/green (the routes and the hook in :class:`BlueGreenRoutes`), target 5xx,
  p99 latency and unhealthy-target alarms, scaling on CPU and requests per target;
- ``kind = "consumer"``: its own queue (``QUEUE_URL``) and receive rights on it, a backlog-age
  alarm, step scaling on the visible backlog, its health command;
- ``publishes_events = true``: ``EVENTS_TOPIC_ARN`` and the right to publish to the topic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as applicationautoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.model import ConsumerService, HttpService, ServiceSize, TrafficShift
from infra.compliance import acknowledge_nag, acknowledge_wildcards, ignore_cfn_lint
from infra.data.database import PORT as DATABASE_PORT
from infra.data.database import Database
from infra.escape_hatch import cfn_resource
from infra.images import ServiceImage
from infra.messaging.queues import WorkQueue
from infra.retention import retention_days
from infra.services.tracing import COLLECTOR_CPU, TraceCollector, app_environment

# Shutdown, tuned together. On a deployment or scale-in the ALB stops sending new requests
# and waits DEREGISTRATION_DELAY for in-flight ones; at the same time ECS sends SIGTERM and
# the app drains for at most its SHUTDOWN_TIMEOUT, then exits. ECS sends SIGKILL only after
# STOP_TIMEOUT, which leaves 10 s of margin over the drain; the deregistration delay equals
# the stop timeout so the target is not reported drained before the process has finished.
SHUTDOWN_TIMEOUT = Duration.seconds(20)
STOP_TIMEOUT = Duration.seconds(30)
DEREGISTRATION_DELAY = Duration.seconds(30)


@dataclass(frozen=True, kw_only=True)
class EventTopic:
    """Where publishers send domain events: the topic and the key that encrypts it."""

    topic: sns.ITopic
    key: kms.IKey


@dataclass(frozen=True, kw_only=True)
class BlueGreenRoutes:
    """What ECS switches between the blue and the green revision of the http service."""

    load_balancer: elbv2.ApplicationLoadBalancer
    green_target_group: elbv2.ApplicationTargetGroup
    production_rule: elbv2.ApplicationListenerRule
    test_rule: elbv2.ApplicationListenerRule
    # Runs the deployed checks once the test route points at green.
    hook: lambda_.IFunction
    traffic_shift: TrafficShift


# ECS's strategies, by the config's name.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html
STRATEGIES = {
    "blue_green": ecs.DeploymentStrategy.BLUE_GREEN,
    "canary": ecs.DeploymentStrategy.CANARY,
    "linear": ecs.DeploymentStrategy.LINEAR,
}


@dataclass(frozen=True, kw_only=True)
class ServiceContext:
    """What every service of one environment shares."""

    project: str
    cluster: ecs.Cluster
    vpc: ec2.IVpc
    metrics_namespace: str
    log_key: kms.IKey
    log_retention_days: int
    removal_policy: RemovalPolicy
    # Staging and prod replace tasks without ever dropping below the desired count.
    min_healthy_percent: int
    # The deployment alarms are health alarms: named under the prefix the bake watches.
    health_alarm_prefix: str
    alarm_topic: sns.ITopic
    # The share of new traces the services' SDK keeps (TRACING_SAMPLE_RATIO).
    trace_sample_ratio: float


class Service(Construct):
    """One registry entry as a Fargate service (see the module docstring for what it gets)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        spec: HttpService | ConsumerService,
        size: ServiceSize,
        image: ServiceImage,
        context: ServiceContext,
        database: Database | None,
        queue: WorkQueue | None,
        events: EventTopic | None,
        target_group: elbv2.ApplicationTargetGroup | None,
        blue_green: BlueGreenRoutes | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.spec = spec
        self._context = context
        self.task_definition = self._task_definition(
            image=image, size=size, environment=self._environment(database, queue, events)
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=context.vpc,
            description=f"{name} tasks: HTTPS out (AWS APIs, ECR)"
            + (" and PostgreSQL to the proxy" if database else ""),
            allow_all_outbound=True,
        )
        if isinstance(spec, HttpService) and (target_group is None or blue_green is None):
            raise ValueError(f"{name}: an http service needs its target groups and routes")
        self.deployment_alarms = self._deployment_alarms(target_group, blue_green, queue)
        self.service = self._fargate_service(size, blue_green)
        # The first tasks start with the collector's X-Ray grant already in place.
        self.service.node.add_dependency(self.tracing.policy)
        self._grant(self.task_definition.task_role, database=database, queue=queue, events=events)
        if database is not None:
            self._allow_into_proxy(database)
        scaling = self.service.auto_scale_task_count(
            min_capacity=size.min_tasks, max_capacity=size.max_tasks
        )
        if target_group is not None and blue_green is not None:
            self._route_blue_green(target_group, blue_green)
            _scale_on_requests(scaling, blue_green, target_group)
        elif queue is not None:
            _scale_on_backlog(scaling, queue)

    # ------------------------------------------------------------------ the task
    def _environment(
        self, database: Database | None, queue: WorkQueue | None, events: EventTopic | None
    ) -> dict[str, str]:
        prefix = self.name.upper()
        environment = {
            "SERVICE_NAME": f"{self._context.project}-{self.name}",
            "METRICS_NAMESPACE": self._context.metrics_namespace,
            f"{prefix}_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT.to_seconds()),
            **app_environment(sample_ratio=self._context.trace_sample_ratio),
        }
        if isinstance(self.spec, HttpService):
            environment[f"{prefix}_PORT"] = str(self.spec.port)
        if database is not None:
            environment |= {
                "DATABASE_SECRET_ARN": database.secret.secret_arn,
                "DATABASE_HOST": database.proxy.endpoint,
                "DATABASE_SSLMODE": "verify-full",
            }
        if queue is not None:
            environment["QUEUE_URL"] = queue.queue.queue_url
        if events is not None:
            environment["EVENTS_TOPIC_ARN"] = events.topic.topic_arn
        return environment

    def _task_definition(
        self, *, image: ServiceImage, size: ServiceSize, environment: Mapping[str, str]
    ) -> ecs.FargateTaskDefinition:
        """The task: the service's container on a read-only root filesystem with a scratch
        /tmp, and the trace collector beside it."""
        task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=size.cpu,
            memory_limit_mib=size.memory,
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
                cpu_architecture=ecs.CpuArchitecture.X86_64,
            ),
        )
        # The app's CPU reservation is the task's less the collector's: unset, its weight
        # against the collector's reservation would be the kernel's minimum (2 shares).
        app_cpu = size.cpu - COLLECTOR_CPU
        if app_cpu <= 0:
            raise ValueError(f"{self.name}: cpu {size.cpu} leaves nothing beside the collector")
        container = self._container(
            task_definition, image=image, environment=environment, cpu=app_cpu
        )
        self.container = container
        acknowledge_nag(
            task_definition,
            "AwsSolutions-ECS2",
            "the variables are identifiers only (secret ARN, proxy host, queue URL, topic ARN, "
            "token issuer URL and client id, timeouts, the tracing endpoint and ratio, the trace "
            "collector's configuration); the app reads the credentials from Secrets Manager "
            "with its task role",
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
        self.tracing = TraceCollector(
            self,
            "Tracing",
            task_definition=task_definition,
            log_group=self.log_group,
            stream_prefix=f"{self.name}-tracing",
        )
        # Started first, so stopped last (ECS reverses a start dependency at shutdown): the
        # collector is still there for the spans of the app's drain.
        container.add_container_dependencies(
            ecs.ContainerDependency(
                container=self.tracing.container,
                condition=ecs.ContainerDependencyCondition.START,
            )
        )
        _explain_execution_policy(task_definition)
        return task_definition

    def _container(
        self,
        task_definition: ecs.FargateTaskDefinition,
        *,
        image: ServiceImage,
        environment: Mapping[str, str],
        cpu: int,
    ) -> ecs.ContainerDefinition:
        """The service's container: its image from ECR, its logs in its own log group."""
        context = self._context
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention_days(context.log_retention_days),
            encryption_key=context.log_key,
            removal_policy=context.removal_policy,
        )
        repository = ecr.Repository.from_repository_attributes(
            self,
            "Repository",
            repository_arn=image.repository_arn,
            repository_name=image.repository_name,
        )
        spec = self.spec
        return task_definition.add_container(
            self.name,
            image=ecs.ContainerImage.from_ecr_repository(repository, tag=image.tag),
            essential=True,
            cpu=cpu,
            environment=dict(environment),
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix=self.name,
                log_group=self.log_group,
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
            ),
            readonly_root_filesystem=True,
            stop_timeout=STOP_TIMEOUT,
            port_mappings=(
                [ecs.PortMapping(container_port=spec.port)]
                if isinstance(spec, HttpService)
                else None
            ),
            # An http service has the load balancer's health check instead.
            health_check=(
                _container_health_check(spec.health_command)
                if isinstance(spec, ConsumerService)
                else None
            ),
        )

    def accept_tokens_of(self, *, issuer_url: str, client_ids: Sequence[str]) -> None:
        """``AUTH_ISSUER`` and ``AUTH_CLIENT_ID``: whose access tokens the service accepts.

        ``client_ids`` are the web app's client and, where the post-deploy checks sign in,
        theirs: ``AUTH_CLIENT_ID`` is their comma-separated list (a CloudFormation join of
        the clients' ids), the form the API's settings read.

        Added once the web app's client exists (it names the site, which needs this fleet's
        load balancer). The task fetches the issuer's JWKS over HTTPS: its security group
        allows all outbound traffic and its private subnets route through NAT. Not through a
        cognito-idp interface endpoint: a user pool with a domain cannot be reached through
        one (Cognito's PrivateLink documentation), and this pool has the managed login domain.
        """
        self.container.add_environment("AUTH_ISSUER", issuer_url)
        if not client_ids:
            raise ValueError("a service that accepts tokens accepts some client's")
        self.container.add_environment("AUTH_CLIENT_ID", Fn.join(",", list(client_ids)))

    # ------------------------------------------------------------------ the service
    def _fargate_service(
        self, size: ServiceSize, blue_green: BlueGreenRoutes | None
    ) -> ecs.FargateService:
        context = self._context
        deployment = (
            _traffic_shift(blue_green.traffic_shift)
            if blue_green is not None
            else _rolling(context.min_healthy_percent)
        )
        return ecs.FargateService(
            self,
            "Service",
            cluster=context.cluster,
            task_definition=self.task_definition,
            desired_count=size.min_tasks,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            assign_public_ip=False,
            deployment_alarms=ecs.DeploymentAlarmConfig(
                alarm_names=[alarm.alarm_name for alarm in self.deployment_alarms],
                behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM,
            ),
            health_check_grace_period=(
                Duration.seconds(60) if isinstance(self.spec, HttpService) else None
            ),
            deployment_strategy=deployment.strategy,
            bake_time=deployment.bake_time,
            canary_configuration=deployment.canary,
            linear_configuration=deployment.linear,
            circuit_breaker=deployment.circuit_breaker,
            min_healthy_percent=deployment.min_healthy_percent,
            max_healthy_percent=200,
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(
                    capacity_provider="FARGATE_SPOT" if size.spot else "FARGATE", weight=1
                )
            ],
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_ecs_managed_tags=True,
            platform_version=ecs.FargatePlatformVersion.LATEST,
        )

    def _deployment_alarms(
        self,
        target_group: elbv2.ApplicationTargetGroup | None,
        routes: BlueGreenRoutes | None,
        queue: WorkQueue | None,
    ) -> list[cloudwatch.Alarm]:
        """The alarms that roll a deployment of this service back (created before it).

        An http service's are the load balancer's, not one target group's: production traffic
        moves to the other group with every deployment, and the balancer serves only it.
        """
        spec = self.spec
        if isinstance(spec, HttpService) and target_group is not None and routes is not None:
            thresholds = spec.deployment_alarms
            balancer = routes.load_balancer.metrics
            return [
                self._alarm(
                    "Target5xx",
                    "target-5xx",
                    balancer.http_code_target(
                        elbv2.HttpCodeTarget.TARGET_5XX_COUNT,
                        period=Duration.minutes(1),
                        statistic="Sum",
                    ),
                    threshold=thresholds.target_5xx_count,
                    description=f"{self.name} targets answer 5xx (rolls a deployment back)",
                ),
                self._alarm(
                    "LatencyP99",
                    "latency-p99",
                    balancer.target_response_time(period=Duration.minutes(1), statistic="p99"),
                    threshold=thresholds.p99_latency_seconds,
                    description=f"{self.name} p99 latency above "
                    f"{thresholds.p99_latency_seconds:g} s (rolls a deployment back)",
                ),
                self._alarm(
                    "UnhealthyTargets",
                    "unhealthy-targets",
                    _unhealthy_in_either(routes, target_group),
                    threshold=0,
                    description=f"{self.name} has targets failing the health check in either "
                    "target group (rolls a deployment back)",
                ),
            ]
        if isinstance(spec, ConsumerService) and queue is not None:
            age = spec.deployment_alarms.backlog_age_seconds
            return [
                self._alarm(
                    "BacklogAge",
                    "backlog-age",
                    queue.queue.metric_approximate_age_of_oldest_message(
                        period=Duration.minutes(1), statistic="Maximum"
                    ),
                    threshold=age,
                    description=f"{self.name}'s queue not drained for {age} s "
                    "(rolls a deployment back)",
                )
            ]
        return []

    def _alarm(
        self,
        construct_id: str,
        health_name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
    ) -> cloudwatch.Alarm:
        context = self._context
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{context.health_alarm_prefix}{self.name}-{health_name}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(context.alarm_topic))
        alarm.add_ok_action(cloudwatch_actions.SnsAction(context.alarm_topic))
        return alarm

    def _route_blue_green(
        self, blue: elbv2.ApplicationTargetGroup, routes: BlueGreenRoutes
    ) -> None:
        """Blue takes the routes first; each deployment starts green in the other group, points
        the test route at it, runs the hook there, then shifts production traffic."""
        spec = self.spec
        if not isinstance(spec, HttpService):
            return
        target = self.service.load_balancer_target(
            container_name=self.name,
            container_port=spec.port,
            alternate_target=ecs.AlternateTarget(
                "AlternateTarget",
                alternate_target_group=routes.green_target_group,
                production_listener=ecs.ListenerRuleConfiguration.application_listener_rule(
                    routes.production_rule
                ),
                test_listener=ecs.ListenerRuleConfiguration.application_listener_rule(
                    routes.test_rule
                ),
            ),
        )
        target.attach_to_application_target_group(blue)
        # ECS invokes the hook with this role (the hook's RoleArn).
        invoker = iam.Role(
            self,
            "HookInvoker",
            assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"),
            description=f"ECS invokes the {self.name} deployment hook with this role",
        )
        routes.hook.grant_invoke(invoker)
        self.service.add_lifecycle_hook(
            ecs.DeploymentLifecycleLambdaTarget(
                routes.hook,
                "TestRouteChecks",
                lifecycle_stages=[ecs.DeploymentLifecycleStage.POST_TEST_TRAFFIC_SHIFT],
                role=invoker,
            )
        )
        # ECS assumes the role for the service's first deployment already.
        self.service.node.add_dependency(invoker)
        self._explain_blue_green(invoker)

    def _explain_blue_green(self, invoker: iam.Role) -> None:
        service = self.service
        acknowledge_nag(
            service.node.find_child("AlternateTargetRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "AmazonECSInfrastructureRolePolicyForLoadBalancers]",
            "ECS's infrastructure role for load balancers: AWS maintains the listener, rule "
            "and target actions blue/green needs as ECS changes; only ecs.amazonaws.com may "
            "assume the role",
        )
        policy = invoker.node.find_child("DefaultPolicy")
        acknowledge_wildcards(
            cfn_resource(policy, iam.CfnPolicy),
            "ECS invokes the one hook function (and its versions, the ':*' form) with this role",
        )
        ignore_cfn_lint(
            service,
            "W3005",
            "CDK also makes the service depend on the listener rules it names, so the rules "
            "exist before ECS reads them; the Ref alone orders the same, harmless twice",
        )

    # ------------------------------------------------------------------ access
    def _allow_into_proxy(self, database: Database) -> None:
        # The rule lives here, in the stateless stack that depends on the stateful one (no
        # cycle, and the stateful stack never references a stateless resource).
        ec2.CfnSecurityGroupIngress(
            self,
            "ToProxy",
            group_id=database.proxy_security_group.security_group_id,
            source_security_group_id=self.security_group.security_group_id,
            ip_protocol="tcp",
            from_port=DATABASE_PORT,
            to_port=DATABASE_PORT,
            description=f"PostgreSQL from the {self.name} tasks",
        )

    @staticmethod
    def _grant(
        role: iam.IRole,
        *,
        database: Database | None,
        queue: WorkQueue | None,
        events: EventTopic | None,
    ) -> None:
        """Exactly what the entry declares (policies on the role: the resources stay unaware)."""
        if database is not None:
            _grant_secret_read(role, database)
        if queue is not None:
            _grant_consume(role, queue)
        if events is not None:
            _grant_publish(role, events)


def _group_metric(
    routes: BlueGreenRoutes, group: elbv2.ApplicationTargetGroup, name: str, statistic: str
) -> cloudwatch.Metric:
    """One target group's metric on the service's load balancer."""
    return cloudwatch.Metric(
        namespace="AWS/ApplicationELB",
        metric_name=name,
        dimensions_map={
            "LoadBalancer": routes.load_balancer.load_balancer_full_name,
            "TargetGroup": group.target_group_full_name,
        },
        statistic=statistic,
        period=Duration.minutes(1),
    )


def _unhealthy_in_either(
    routes: BlueGreenRoutes, blue: elbv2.ApplicationTargetGroup
) -> cloudwatch.IMetric:
    """The larger unhealthy-target count of the two groups, whichever serves production."""
    return cloudwatch.MathExpression(
        expression="MAX([blue, green])",
        using_metrics={
            "blue": _group_metric(routes, blue, "UnHealthyHostCount", "Maximum"),
            "green": _group_metric(
                routes, routes.green_target_group, "UnHealthyHostCount", "Maximum"
            ),
        },
        period=Duration.minutes(1),
        label="unhealthy targets",
    )


@dataclass(frozen=True, kw_only=True)
class _Deployment:
    """How ECS replaces a service's tasks."""

    min_healthy_percent: int
    strategy: ecs.DeploymentStrategy | None = None
    bake_time: Duration | None = None
    canary: ecs.TrafficShiftConfig | None = None
    linear: ecs.TrafficShiftConfig | None = None
    circuit_breaker: ecs.DeploymentCircuitBreaker | None = None


def _rolling(min_healthy_percent: int) -> _Deployment:
    """A rolling deployment: the circuit breaker (rolling only) and the healthy-task floor."""
    return _Deployment(
        min_healthy_percent=min_healthy_percent,
        circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
    )


def _traffic_shift(shift: TrafficShift) -> _Deployment:
    """ECS native blue/green, canary or linear: green starts at full size beside blue. The
    circuit breaker stops green tasks that never start (ECS supports it for blue/green too);
    the hook and the deployment alarms roll back a green that starts but misbehaves. The
    healthy-percent settings are rolling's: 100/200 never lets a count drop.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-failure-detection.html"""
    step = None
    if shift.step_percent is not None and shift.step_minutes is not None:
        step = ecs.TrafficShiftConfig(
            step_percent=shift.step_percent, step_bake_time=Duration.minutes(shift.step_minutes)
        )
    return _Deployment(
        min_healthy_percent=100,
        circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
        strategy=STRATEGIES[shift.strategy],
        bake_time=Duration.minutes(shift.bake_minutes),
        canary=step if shift.strategy == "canary" else None,
        linear=step if shift.strategy == "linear" else None,
    )


def _scale_on_requests(
    scaling: ecs.ScalableTaskCount,
    routes: BlueGreenRoutes,
    blue: elbv2.ApplicationTargetGroup,
) -> None:
    """On CPU, and on requests per target summed over both groups: production moves to the
    other group with each deployment, so one group's count would fall to zero."""
    scaling.scale_on_cpu_utilization(
        "Cpu",
        target_utilization_percent=60,
        scale_in_cooldown=Duration.seconds(300),
        scale_out_cooldown=Duration.seconds(60),
    )
    scaling.scale_to_track_custom_metric(
        "Requests",
        metric=_group_metric(routes, blue, "RequestCountPerTarget", "Sum"),
        target_value=500,
        scale_in_cooldown=Duration.seconds(300),
        scale_out_cooldown=Duration.seconds(60),
    )
    # CDK's target tracking takes one metric only; Application Auto Scaling takes metric math.
    # https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking-metric-math.html
    policy = cfn_resource(
        scaling.node.find_child("Target").node.find_child("Requests"),
        applicationautoscaling.CfnScalingPolicy,
    )
    specification = "TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification"
    policy.add_property_override(
        specification,
        {
            "Metrics": [
                *(
                    _metric_stat(key, _group_metric(routes, group, "RequestCountPerTarget", "Sum"))
                    for key, group in (("blue", blue), ("green", routes.green_target_group))
                ),
                {
                    "Id": "requests",
                    "Expression": "FILL(blue, 0) + FILL(green, 0)",
                    "Label": "requests per target, both groups",
                    "ReturnData": True,
                },
            ]
        },
    )
    # After the override, which replaces the object the deletions must edit.
    for single_metric_key in ("Dimensions", "MetricName", "Namespace", "Statistic"):
        policy.add_property_deletion_override(f"{specification}.{single_metric_key}")


def _metric_stat(key: str, metric: cloudwatch.Metric) -> dict[str, object]:
    """``metric`` as one entry of a metric-math specification (CloudFormation's shape)."""
    return {
        "Id": key,
        "MetricStat": {
            "Metric": {
                "Namespace": metric.namespace,
                "MetricName": metric.metric_name,
                "Dimensions": [
                    {"Name": name, "Value": value}
                    for name, value in (metric.dimensions or {}).items()
                ],
            },
            "Stat": metric.statistic,
        },
        "ReturnData": False,
    }


def _scale_on_backlog(scaling: ecs.ScalableTaskCount, queue: WorkQueue) -> None:
    scaling.scale_on_metric(
        "QueueDepth",
        metric=queue.queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic="Maximum"
        ),
        scaling_steps=[
            {"upper": 0, "change": -1},
            {"lower": 100, "change": +1},
            {"lower": 500, "change": +3},
        ],
        cooldown=Duration.seconds(120),
    )


def _container_health_check(command: list[str]) -> ecs.HealthCheck:
    """The container's own health command, in exec form (no shell in the task)."""
    return ecs.HealthCheck(
        command=["CMD", *command],
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


def _grant_consume(role: iam.IRole, queue: WorkQueue) -> None:
    """Receiving from, and settling messages of, its own queue."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
            ],
            resources=[queue.queue.queue_arn],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["kms:Decrypt"], resources=[queue.key.key_arn])
    )


def _grant_publish(role: iam.IRole, events: EventTopic) -> None:
    """Publishing to the event topic; an encrypted topic needs the publisher to use its key.

    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
    """
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["sns:Publish"], resources=[events.topic.topic_arn])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[events.key.key_arn]
        )
    )


def _grant_secret_read(role: iam.IRole, data: Database) -> None:
    """Read exactly the database secret (policies on the role: the stateful stack stays unaware)."""
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
