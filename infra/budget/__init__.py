from infra.budget.budget import EnvironmentBudget

__all__ = ["EnvironmentBudget"]
