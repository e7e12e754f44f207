"""The budget of each environment (its stateless stack), read from the synthesized templates."""

from __future__ import annotations

from typing import Any

import pytest

from config.cloud_assembly import Template
from config.model import DeliveryConfig, EnvironmentConfig
from config.names import alarm_topic_name
from tests.support.assembly import Assembly, properties, ref_target


@pytest.fixture(scope="module")
def stateless(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> Template:
    return assembly.template(f"{config.project.name}-{env.name}-stateless")


@pytest.fixture(scope="module")
def budget(stateless: Template) -> dict[str, Any]:
    (props,) = properties(stateless, "AWS::Budgets::Budget")
    return props


def test_monthly_cost_budget_with_the_configured_limit(
    budget: dict[str, Any], env: EnvironmentConfig, config: DeliveryConfig
) -> None:
    data = budget["Budget"]
    assert data["BudgetName"] == f"{config.project.name}-{env.name}-monthly"
    assert data["BudgetType"] == "COST"
    assert data["TimeUnit"] == "MONTHLY"
    assert data["BudgetLimit"] == {"Amount": env.budget.monthly_limit_usd, "Unit": "USD"}


def test_budget_counts_only_this_project_and_environment(
    budget: dict[str, Any], env: EnvironmentConfig, config: DeliveryConfig
) -> None:
    expression = budget["Budget"]["FilterExpression"]
    assert sorted(
        (part["Tags"]["Key"], part["Tags"]["Values"], part["Tags"]["MatchOptions"])
        for part in expression["And"]
    ) == [
        ("environment", [env.name], ["EQUALS"]),
        ("project", [config.project.name], ["EQUALS"]),
    ]


def test_one_alert_per_threshold_to_every_configured_email_and_the_alarm_topic(
    budget: dict[str, Any], stateless: Template, env: EnvironmentConfig, config: DeliveryConfig
) -> None:
    notifications = budget["NotificationsWithSubscribers"]
    assert [n["Notification"]["Threshold"] for n in notifications] == env.budget.thresholds
    for notification in notifications:
        assert notification["Notification"] == {
            "ComparisonOperator": "GREATER_THAN",
            "NotificationType": "ACTUAL",
            "Threshold": notification["Notification"]["Threshold"],
            "ThresholdType": "PERCENTAGE",
        }
        emails = [s for s in notification["Subscribers"] if s["SubscriptionType"] == "EMAIL"]
        assert emails == [
            {"Address": address, "SubscriptionType": "EMAIL"} for address in env.budget.alert_emails
        ]
        (topic,) = [s for s in notification["Subscribers"] if s["SubscriptionType"] == "SNS"]
        # The environment's alarm topic, in the same (stateless) stack.
        alarm_topic = ref_target(stateless, topic["Address"])
        assert alarm_topic["Type"] == "AWS::SNS::Topic"
        assert alarm_topic["Properties"]["TopicName"] == alarm_topic_name(
            config.project.name, env.name
        )


def test_budget_carries_the_cost_tags(
    budget: dict[str, Any], env: EnvironmentConfig, config: DeliveryConfig
) -> None:
    tags = {tag["Key"]: tag["Value"] for tag in budget["ResourceTags"]}
    assert tags == {
        "project": config.project.name,
        "environment": env.name,
        "owner": config.project.owner,
        "cost-center": config.project.cost_center,
    }


def test_alerts_also_go_to_a_topic_when_one_is_given() -> None:
    from aws_cdk import App, Stack  # noqa: PLC0415
    from aws_cdk import aws_sns as sns  # noqa: PLC0415

    from infra.budget import EnvironmentBudget  # noqa: PLC0415

    stack = Stack(App(), "WithTopic")
    topic = sns.Topic(stack, "Alarms")
    construct = EnvironmentBudget(
        stack,
        "Budget",
        name="todo-dev-monthly",
        monthly_limit_usd=10,
        alert_emails=["a@example.com"],
        thresholds=[50],
        cost_tags={"project": "todo"},
        topic=topic,
    )
    resolved = stack.resolve(construct.budget.notifications_with_subscribers)
    (notification,) = resolved
    assert notification["subscribers"][-1] == {
        "subscriptionType": "SNS",
        "address": {"Ref": stack.get_logical_id(topic.node.default_child)},  # type: ignore[arg-type]
    }
