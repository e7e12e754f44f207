"""The pipeline's notification topic: failures, approvals waiting, production releases."""

from __future__ import annotations

from collections.abc import Iterable

import jsii
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_codestarnotifications as notifications
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.service_grants import allow_service_publish

NOTIFICATIONS_SERVICE = "codestar-notifications.amazonaws.com"


@jsii.implements(notifications.INotificationRuleTarget)
class _ScopedTopicTarget:
    """The topic as a notification rule target, without CDK's own unconditioned grant.

    ``sns.Topic`` as a target adds ``sns:Publish`` for CodeStar Notifications with no source
    condition; DeliveryNotifications writes the scoped grant itself.
    """

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def bind_as_notification_rule_target(
        self, _scope: Construct
    ) -> notifications.NotificationRuleTargetConfig:
        return notifications.NotificationRuleTargetConfig(
            target_type="SNS", target_address=self._topic.topic_arn
        )


class DeliveryNotifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, emails: Iterable[str]) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the delivery pipeline's notifications",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        self.topic = sns.Topic(
            self, "Topic", master_key=self.key, enforce_ssl=True, display_name="Delivery pipeline"
        )
        # CodeStar Notifications (the pipeline's notify_on) publishes for this account only:
        # https://docs.aws.amazon.com/dtconsole/latest/userguide/troubleshooting.html
        allow_service_publish(
            self.topic,
            services=[NOTIFICATIONS_SERVICE],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
        )
        self.rule_target: notifications.INotificationRuleTarget = _ScopedTopicTarget(self.topic)
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def publish_statements(self) -> list[iam.PolicyStatement]:
        """What a principal needs to publish to the topic: SNS encrypts each message with the
        topic's key on the publisher's behalf (kms:GenerateDataKey, kms:Decrypt).
        https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
        """
        region = Stack.of(self).region
        return [
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com"}},
            ),
        ]
