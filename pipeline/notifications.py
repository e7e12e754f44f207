"""The pipeline's notification topic: failures, approvals waiting, production releases."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

# Services that publish to the topic and so must be able to use its key.
_PUBLISHERS = ("codestar-notifications.amazonaws.com", "events.amazonaws.com")


class DeliveryNotifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, emails: Iterable[str]) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the delivery pipeline's notifications",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(service) for service in _PUBLISHERS],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self, "Topic", master_key=self.key, enforce_ssl=True, display_name="Delivery pipeline"
        )
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
