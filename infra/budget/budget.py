"""A monthly AWS Budgets cost budget for one environment, alerting by email and SNS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_sns as sns
from constructs import Construct


class EnvironmentBudget(Construct):
    """Actual monthly cost of the resources tagged ``cost_tags``, against a USD limit.

    One notification per threshold (percent of the limit, actual spend). Each goes to every
    address in ``alert_emails`` and, when given, to ``topic`` (the environment's alarm topic
    from ``Monitoring``; its policy must let budgets.amazonaws.com publish).

    The tags must be activated as cost allocation tags in the payer account's Billing
    console, otherwise the filter matches nothing (see the README).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        monthly_limit_usd: float,
        alert_emails: Sequence[str],
        thresholds: Sequence[int],
        cost_tags: Mapping[str, str],
        topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        subscribers = [
            budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=address)
            for address in alert_emails
        ]
        if topic is not None:
            subscribers.append(
                budgets.CfnBudget.SubscriberProperty(
                    subscription_type="SNS", address=topic.topic_arn
                )
            )
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_limit_usd, unit="USD"),
                filter_expression=budgets.CfnBudget.ExpressionProperty(
                    and_=[
                        budgets.CfnBudget.ExpressionProperty(
                            tags=budgets.CfnBudget.TagValuesProperty(
                                key=key, values=[value], match_options=["EQUALS"]
                            )
                        )
                        for key, value in sorted(cost_tags.items())
                    ]
                ),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type="ACTUAL",
                        comparison_operator="GREATER_THAN",
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for threshold in thresholds
            ],
        )
