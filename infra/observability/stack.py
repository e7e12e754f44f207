"""The observability stack of one environment: alarm topic, dashboard, alarms."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from infra.data import DataStack
from infra.environment_stack import EnvironmentStack
from infra.messaging import MessagingStack
from infra.observability.monitoring import Monitoring
from infra.services import ServicesStack


class ObservabilityStack(EnvironmentStack):
    """Deployed last: it reads the metrics of the data, messaging and services stacks."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic_name: str,
        health_alarm_prefix: str,
        emails: list[str],
        data: DataStack,
        messaging: MessagingStack,
        services: ServicesStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            topic_name=topic_name,
            health_alarm_prefix=health_alarm_prefix,
            emails=emails,
            data=data.database,
            queues=messaging.queues,
            events=messaging.topic,
            services=services.fleet,
        )
        self.topic = self.monitoring.topic
        self.dashboard = self.monitoring.dashboard
