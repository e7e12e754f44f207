"""Where an AWS service delivers to our resources: found in the templates, not listed by hand.

A delivery is one service (the principal it acts as) sending from one source resource to one
target: an alarm action to a topic, an EventBridge target or dead-letter queue, a budget
notification, a CodeStar notification rule, an SNS subscription.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from policies.checks.grants.model import Assembly, ResourceId, Stack
from policies.checks.grants.policy import as_list


@dataclass(frozen=True)
class Delivery:
    service: str
    source: ResourceId
    what: str
    target_text: str
    target: ResourceId | None

    def source_values(self, assembly: Assembly) -> set[str]:
        """What the service sends as aws:SourceArn: the source's ARN, however it is written."""
        return {*assembly.identities(self.source), assembly.arn(self.source)}


_ARN_SERVICE = {
    "sns": "AWS::SNS::Topic",
    "sqs": "AWS::SQS::Queue",
    "lambda": "AWS::Lambda::Function",
}


def _delivery(
    assembly: Assembly, stack: Stack, *, service: str, source: str, what: str, value: Any
) -> Delivery:
    text = assembly.text(stack, value)
    return Delivery(
        service=service,
        source=ResourceId(stack.name, source),
        what=what,
        target_text=text,
        target=assembly.target(text),
    )


def _kind(assembly: Assembly, delivery: Delivery) -> str | None:
    """The CloudFormation type the delivery goes to (from the resource, or its literal ARN)."""
    if delivery.target is not None:
        return assembly.type_of(delivery.target)
    fields = delivery.target_text.split(":")
    return _ARN_SERVICE.get(fields[2]) if len(fields) > 2 else None


def _alarm_actions(assembly: Assembly, stack: Stack, logical_id: str) -> Iterator[Delivery]:
    properties = stack.resources[logical_id].get("Properties") or {}
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        for action in as_list(properties.get(key)):
            yield _delivery(
                assembly,
                stack,
                service="cloudwatch.amazonaws.com",
                source=logical_id,
                what="alarm action",
                value=action,
            )


def _budget_notifications(assembly: Assembly, stack: Stack, logical_id: str) -> Iterator[Delivery]:
    properties = stack.resources[logical_id].get("Properties") or {}
    for notification in as_list(properties.get("NotificationsWithSubscribers")):
        for subscriber in as_list(notification.get("Subscribers")):
            if subscriber.get("SubscriptionType") == "SNS":
                yield _delivery(
                    assembly,
                    stack,
                    service="budgets.amazonaws.com",
                    source=logical_id,
                    what="budget notification",
                    value=subscriber.get("Address"),
                )


def _notification_rule(assembly: Assembly, stack: Stack, logical_id: str) -> Iterator[Delivery]:
    properties = stack.resources[logical_id].get("Properties") or {}
    for target in as_list(properties.get("Targets")):
        if target.get("TargetType") == "SNS":
            yield _delivery(
                assembly,
                stack,
                service="codestar-notifications.amazonaws.com",
                source=logical_id,
                what="notification rule",
                value=target.get("TargetAddress"),
            )


def _event_rule(assembly: Assembly, stack: Stack, logical_id: str) -> Iterator[Delivery]:
    properties = stack.resources[logical_id].get("Properties") or {}
    for target in as_list(properties.get("Targets")):
        # A target with a role is delivered with that role's permissions, not as the service.
        if "RoleArn" not in target:
            yield _delivery(
                assembly,
                stack,
                service="events.amazonaws.com",
                source=logical_id,
                what="EventBridge target",
                value=target.get("Arn"),
            )
        dead_letters = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dead_letters is not None:
            yield _delivery(
                assembly,
                stack,
                service="events.amazonaws.com",
                source=logical_id,
                what="EventBridge dead-letter queue",
                value=dead_letters,
            )


def _subscription(assembly: Assembly, stack: Stack, logical_id: str) -> Iterator[Delivery]:
    properties = stack.resources[logical_id].get("Properties") or {}
    if properties.get("Protocol") in {"sqs", "lambda"}:
        topic = assembly.target(assembly.text(stack, properties.get("TopicArn")))
        yield Delivery(
            service="sns.amazonaws.com",
            source=topic or ResourceId(stack.name, logical_id),
            what="SNS subscription",
            target_text=assembly.text(stack, properties.get("Endpoint")),
            target=assembly.target(assembly.text(stack, properties.get("Endpoint"))),
        )


_SOURCES = {
    "AWS::CloudWatch::Alarm": _alarm_actions,
    "AWS::Budgets::Budget": _budget_notifications,
    "AWS::CodeStarNotifications::NotificationRule": _notification_rule,
    "AWS::Events::Rule": _event_rule,
    "AWS::SNS::Subscription": _subscription,
}


def deliveries(assembly: Assembly, target_type: str) -> list[Delivery]:
    """Every delivery by an AWS service to a resource of ``target_type``."""
    found = []
    for stack in assembly.stacks.values():
        for logical_id, resource in stack.resources.items():
            source = _SOURCES.get(str(resource.get("Type")))
            if source is None:
                continue
            found += [
                d for d in source(assembly, stack, logical_id) if _kind(assembly, d) == target_type
            ]
    return found


def unresolved(delivery: Delivery) -> str:
    return (
        f"{delivery.what} of {delivery.source} goes to {delivery.target_text!r}, which is not a "
        "resource of this assembly: its grants cannot be checked"
    )
