"""CKV_TODO_3: ECS services stop a failing deployment and roll back to the last good one.

A rolling deployment needs the circuit breaker with rollback. ECS accepts the circuit breaker
for rolling deployments only; a blue/green, canary or linear one passes when its deployment
alarms are enabled with rollback and it names at least one alarm (its lifecycle hooks may add
checks, but the alarms are what watch the bake).
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html
"""

from __future__ import annotations

from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

_TRUE = (True, "true", "True")
TRAFFIC_SHIFTING = ("BLUE_GREEN", "CANARY", "LINEAR")


def _rolls_back(setting: Any) -> bool:
    return (
        isinstance(setting, dict)
        and setting.get("Enable") in _TRUE
        and setting.get("Rollback") in _TRUE
    )


class EcsCircuitBreakerRollback(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Ensure ECS services roll a failing deployment back: the circuit breaker "
                "(rolling) or deployment alarms (blue/green, canary, linear)"
            ),
            id="CKV_TODO_3",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("AWS::ECS::Service",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        deployment = (conf.get("Properties") or {}).get("DeploymentConfiguration") or {}
        if deployment.get("Strategy") in TRAFFIC_SHIFTING:
            self.evaluated_keys = ["Properties/DeploymentConfiguration/Alarms"]
            alarms = deployment.get("Alarms")
            named = isinstance(alarms, dict) and bool(alarms.get("AlarmNames"))
            return CheckResult.PASSED if named and _rolls_back(alarms) else CheckResult.FAILED
        self.evaluated_keys = ["Properties/DeploymentConfiguration/DeploymentCircuitBreaker"]
        breaker = deployment.get("DeploymentCircuitBreaker")
        return CheckResult.PASSED if _rolls_back(breaker) else CheckResult.FAILED


check = EcsCircuitBreakerRollback()
