from infra.budget.budget import EnvironmentBudget
from infra.budget.stack import BudgetStack

__all__ = ["BudgetStack", "EnvironmentBudget"]
