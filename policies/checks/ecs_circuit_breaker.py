"""CKV_TODO_3: ECS services stop a failing deployment and roll back to the last good one."""

from __future__ import annotations

from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

_TRUE = (True, "true", "True")


class EcsCircuitBreakerRollback(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure ECS services enable the deployment circuit breaker with rollback",
            id="CKV_TODO_3",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("AWS::ECS::Service",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["Properties/DeploymentConfiguration/DeploymentCircuitBreaker"]
        deployment = (conf.get("Properties") or {}).get("DeploymentConfiguration") or {}
        breaker = deployment.get("DeploymentCircuitBreaker") or {}
        if breaker.get("Enable") in _TRUE and breaker.get("Rollback") in _TRUE:
            return CheckResult.PASSED
        return CheckResult.FAILED


check = EcsCircuitBreakerRollback()
