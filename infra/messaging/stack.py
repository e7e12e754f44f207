"""The messaging stack of one environment."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from constructs import Construct

from infra.environment_stack import EnvironmentStack
from infra.messaging.queues import WorkQueue


class MessagingStack(EnvironmentStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_receive_count: int,
        removal_policy: RemovalPolicy,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.work_queue = WorkQueue(
            self,
            "WorkQueue",
            max_receive_count=max_receive_count,
            removal_policy=removal_policy,
        )
        self.queue = self.work_queue.queue
        self.dead_letter_queue = self.work_queue.dead_letter_queue
        self.key = self.work_queue.key
