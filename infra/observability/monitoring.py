"""One environment's alarm topic, dashboard and alarms.

Which alarms are *health* alarms (named under ``health_alarm_prefix``, so the bake after each
deploy waits on them and holds the promotion): an alarm whose ALARM state means "what this
release runs is failing", whatever the load and whatever was there before the deploy:
errors (5xx), latency, no running task, work not processed (each consumer's queue age and
each publisher's outbox age), new dead letters per consumer queue. Not health (they notify the
topic, the bake ignores them):

- capacity and cost signals: CPU, memory, Aurora CPU and ACU, proxy connections. They follow
  load, the autoscaler and the capacity limits answer them, and a revert would not;
- state that predates the deploy: dead letters already waiting (``<Consumer>DeadLetters``);
  the bake watches the *new* ones instead (``<consumer>-new-dead-letters``);
- scaling alarms (each consumer's step scaling in ``Services``, the target-tracking alarms
  Application Auto Scaling creates): their ALARM state is the autoscaler's input and normal
  when idle. They keep CloudFormation's or the service's names, never the health prefix.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.data.database import Database
from infra.messaging.queues import WorkQueue
from infra.service_grants import allow_service_publish
from infra.services.services import Services

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    """An encrypted, TLS-only SNS topic with the configured email subscriptions; a dashboard
    of the ALB, ECS services, queues and Aurora; and alarms that all notify the topic.

    The services' deployment alarms (target 5xx, p99 latency, consumer backlog) live in
    ``Services``, which must create them before its services; they notify this topic by its
    name (``topic_name``), so this construct reads the services' metrics without a cycle.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic_name: str,
        health_alarm_prefix: str,
        health_alarm_name: str,
        emails: list[str],
        data: Database,
        queues: Mapping[str, WorkQueue],
        events: sns.ITopic,
        services: Services,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key, self.topic = self._topic(topic_name, emails=emails)
        self._action = cloudwatch_actions.SnsAction(self.topic)
        self._health_alarm_prefix = health_alarm_prefix
        self.alarms: list[cloudwatch.Alarm] = []
        self._health_alarms: list[cloudwatch.Alarm] = []

        self._alarm(
            "Alb5xx",
            services.alb.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD),
            threshold=10,
            description="the load balancer itself answers 5xx (no healthy target?)",
            health_name="alb-5xx",
        )
        for name, queue in queues.items():
            self._queue_alarms(name, queue)
        self._alarm(
            "EventDeliveryFailed",
            events.metric_number_of_notifications_failed(period=PERIOD, statistic="Sum"),
            threshold=0,
            evaluation_periods=1,
            description="SNS could not deliver events to a consumer's queue (key or policy?)",
            health_name="event-delivery-failed",
        )
        self._database_alarms(data)
        self._service_alarms(services)
        self.health = self._health(
            health_alarm_name, [*self._health_alarms, *services.all_deployment_alarms]
        )
        self.dashboard = self._dashboard(data=data, queues=queues, services=services)

    def _health(self, name: str, alarms: list[cloudwatch.Alarm]) -> cloudwatch.CompositeAlarm:
        """In ALARM while any health alarm is: what the next environment's stage waits on."""
        return cloudwatch.CompositeAlarm(
            self,
            "Health",
            composite_alarm_name=name,
            alarm_rule=cloudwatch.AlarmRule.any_of(*alarms),
            alarm_description="any health alarm of this environment is in ALARM: the next "
            "environment's stage is not entered",
        )

    def _topic(self, topic_name: str, *, emails: list[str]) -> tuple[kms.Key, sns.Topic]:
        """The encrypted alarm topic that CloudWatch alarms and AWS Budgets may publish to."""
        stack = Stack.of(self)
        key = kms.Key(
            self,
            "TopicKey",
            description=f"Encrypts the alarm topic of {stack.stack_name}",
            enable_key_rotation=True,
        )
        topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name,
            display_name=f"{topic_name} (CloudWatch alarms)",
            master_key=key,
            enforce_ssl=True,
        )
        # CloudWatch alarms publish as cloudwatch.amazonaws.com with the alarm as aws:SourceArn:
        # https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
        allow_service_publish(
            topic,
            services=["cloudwatch.amazonaws.com"],
            conditions={
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
        # AWS Budgets: the policy its guide gives (budgets-sns-policy.html).
        allow_service_publish(
            topic,
            services=["budgets.amazonaws.com"],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:budgets::{stack.account}:*"},
            },
        )
        for email in emails:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        return key, topic

    def _queue_alarms(self, consumer: str, work_queue: WorkQueue) -> None:
        """Dead letters and age of one consumer's queue."""
        queue, dlq = work_queue.queue, work_queue.dead_letter_queue
        title = consumer.capitalize()
        self._alarm(
            f"{title}DeadLetters",
            dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            threshold=0,
            evaluation_periods=1,
            description=f"messages {consumer} failed repeatedly wait in its dead-letter queue",
        )
        self._alarm(
            f"{title}NewDeadLetters",
            _dead_letters_added(dlq, PERIOD),
            threshold=0,
            evaluation_periods=1,
            description=f"messages moved to {consumer}'s dead-letter queue in the last 5 minutes",
            health_name=f"{consumer}-new-dead-letters",
        )
        self._alarm(
            f"{title}QueueAge",
            queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            threshold=900,
            description=f"the oldest message in {consumer}'s queue is older than 15 minutes",
            health_name=f"{consumer}-queue-age",
        )

    def _database_alarms(self, data: Database) -> None:
        cluster = data.cluster
        self._alarm(
            "DatabaseCpu",
            cluster.metric_cpu_utilization(period=PERIOD),
            threshold=80,
            description="Aurora CPU above 80 %",
        )
        self._alarm(
            "DatabaseCapacity",
            cluster.metric("ACUUtilization", period=PERIOD, statistic="Average"),
            threshold=90,
            description="Aurora is near its configured maximum ACU",
        )
        self._alarm(
            "DatabaseConnections",
            _proxy_connections(data, PERIOD),
            threshold=500,
            description="unusually many client connections to the RDS Proxy",
        )

    def _service_alarms(self, services: Services) -> None:
        for name, backlog_age in services.outbox_backlog_ages.items():
            self._alarm(
                f"{name.capitalize()}OutboxBacklog",
                backlog_age,
                threshold=300,
                description=f"{name}'s outbox relay has not published an event for 5 minutes",
                health_name=f"{name}-outbox-backlog",
            )
        for name, service in services.fargate_services.items():
            title = name.capitalize()
            self._alarm(
                f"{title}Cpu",
                service.metric_cpu_utilization(period=PERIOD),
                threshold=85,
                description=f"{name} tasks above 85 % CPU (scaling at its maximum?)",
            )
            self._alarm(
                f"{title}Memory",
                service.metric_memory_utilization(period=PERIOD),
                threshold=85,
                description=f"{name} tasks above 85 % memory",
            )
            self._alarm(
                f"{title}NoTasks",
                _running_tasks(services.cluster, service),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.BREACHING,
                description=f"no running {name} task",
                health_name=f"{name}-no-tasks",
            )

    def _dashboard(
        self, *, data: Database, queues: Mapping[str, WorkQueue], services: Services
    ) -> cloudwatch.Dashboard:
        """One row per part: the ALB and http service, each service, each queue, Aurora, alarms."""
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{Stack.of(self).stack_name}",
            default_interval=Duration.hours(3),
        )
        dashboard.add_widgets(*_http_widgets(services))
        for name, service in services.fargate_services.items():
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title=f"{name}: CPU and memory (%)",
                    left=[service.metric_cpu_utilization(), service.metric_memory_utilization()],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title=f"{name}: running tasks",
                    left=[_running_tasks(services.cluster, service)],
                    width=12,
                ),
            )
        for name, queue in queues.items():
            dashboard.add_widgets(*_queue_widgets(name, queue))
        if services.outbox_backlog_ages:
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Age of the oldest unpublished event (s), per publisher's outbox",
                    left=list(services.outbox_backlog_ages.values()),
                    width=24,
                )
            )
        dashboard.add_widgets(
            *_database_widgets(data),
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=[*self.alarms, *services.all_deployment_alarms],
                width=24,
            ),
        )
        return dashboard

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 2,
        comparison: cloudwatch.ComparisonOperator = (
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        ),
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        health_name: str | None = None,
    ) -> cloudwatch.Alarm:
        """An alarm on the topic; with ``health_name``, a health alarm the bake waits on."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self._health_alarm_prefix}{health_name}" if health_name else None,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        if health_name:
            self._health_alarms.append(alarm)
        return alarm


def _http_widgets(services: Services) -> list[cloudwatch.IWidget]:
    """The ALB's requests and 5xx, and the http service's latency seen from the ALB."""
    alb, target_group = services.alb, services.http_target_group

    def target_metric(name: str, statistic: str) -> cloudwatch.Metric:
        # Dimensions from the two full names, not split out of the listener's ARN: the
        # values cross stacks, and a split of an imported value does not lint as a string.
        return cloudwatch.Metric(
            namespace="AWS/ApplicationELB",
            metric_name=name,
            dimensions_map={
                "LoadBalancer": alb.load_balancer_full_name,
                "TargetGroup": target_group.target_group_full_name,
            },
            statistic=statistic,
        )

    return [
        cloudwatch.GraphWidget(
            title="ALB requests and 5xx",
            left=[alb.metrics.request_count(period=Duration.minutes(1))],
            right=[
                alb.metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT),
                target_metric("HTTPCode_Target_5XX_Count", "Sum"),
            ],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title=f"{services.http_service_name}: latency (p50, p99)",
            left=[
                target_metric("TargetResponseTime", "p50"),
                target_metric("TargetResponseTime", "p99"),
            ],
            width=12,
        ),
    ]


def _queue_widgets(consumer: str, work_queue: WorkQueue) -> list[cloudwatch.IWidget]:
    queue, dlq = work_queue.queue, work_queue.dead_letter_queue
    return [
        cloudwatch.GraphWidget(
            title=f"{consumer}'s queue: depth and dead letters",
            left=[
                queue.metric_approximate_number_of_messages_visible(),
                dlq.metric_approximate_number_of_messages_visible(),
            ],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title=f"{consumer}'s queue: age of the oldest message (s)",
            left=[queue.metric_approximate_age_of_oldest_message()],
            width=12,
        ),
    ]


def _database_widgets(data: Database) -> list[cloudwatch.IWidget]:
    cluster = data.cluster
    return [
        cloudwatch.GraphWidget(
            title="Aurora CPU (%) and ACU",
            left=[cluster.metric_cpu_utilization()],
            right=[cluster.metric("ServerlessDatabaseCapacity", statistic="Average")],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="Database connections (cluster, proxy clients)",
            left=[
                cluster.metric_database_connections(),
                _proxy_connections(data, Duration.minutes(5)),
            ],
            width=12,
        ),
    ]


def _running_tasks(cluster: ecs.ICluster, service: ecs.FargateService) -> cloudwatch.Metric:
    """Container Insights' running task count of one service."""
    return cloudwatch.Metric(
        namespace="ECS/ContainerInsights",
        metric_name="RunningTaskCount",
        dimensions_map={"ClusterName": cluster.cluster_name, "ServiceName": service.service_name},
        period=Duration.minutes(1),
        statistic="Minimum",
    )


def _dead_letters_added(dlq: sqs.IQueue, period: Duration) -> cloudwatch.MathExpression:
    """How many messages the dead-letter queue gained since the previous period.

    Counted over visible plus in-flight messages, so reading a dead letter (which hides it)
    is not an arrival; a redrive or expiry makes it negative. Dead letters left from before
    a deploy therefore do not hold its bake, new ones do.
    """
    return cloudwatch.MathExpression(
        expression="DIFF(visible + inflight)",
        using_metrics={
            "visible": dlq.metric_approximate_number_of_messages_visible(
                period=period, statistic="Maximum"
            ),
            "inflight": dlq.metric_approximate_number_of_messages_not_visible(
                period=period, statistic="Maximum"
            ),
        },
        label="dead letters added",
        period=period,
    )


def _proxy_connections(data: Database, period: Duration) -> cloudwatch.Metric:
    """Client connections held open to the RDS Proxy."""
    return cloudwatch.Metric(
        namespace="AWS/RDS",
        metric_name="ClientConnections",
        dimensions_map={"ProxyName": data.proxy.db_proxy_name},
        period=period,
        statistic="Maximum",
    )
