"""The cost stack of one environment: its AWS Budgets budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.budget.budget import EnvironmentBudget
from infra.environment_stack import EnvironmentStack


class BudgetStack(EnvironmentStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        budget_name: str,
        monthly_limit_usd: float,
        alert_emails: Sequence[str],
        thresholds: Sequence[int],
        cost_tags: Mapping[str, str],
        topic: sns.ITopic | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.budget = EnvironmentBudget(
            self,
            "Budget",
            name=budget_name,
            monthly_limit_usd=monthly_limit_usd,
            alert_emails=alert_emails,
            thresholds=thresholds,
            cost_tags=cost_tags,
            topic=topic,
        )
