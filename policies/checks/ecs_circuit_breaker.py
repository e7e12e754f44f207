"""CKV_TODO_3: ECS services stop a failing deployment and roll back to the last good one.

Every service needs the circuit breaker with rollback (tasks that never start). A blue/green,
canary or linear one also needs its deployment alarms enabled with rollback, naming at least
one alarm: they are what roll back a green revision that starts but misbehaves during the bake.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-failure-detection.html
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
                "Ensure ECS services roll a failing deployment back: the circuit breaker, and "
                "deployment alarms for blue/green, canary and linear"
            ),
            id="CKV_TODO_3",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("AWS::ECS::Service",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        deployment = (conf.get("Properties") or {}).get("DeploymentConfiguration") or {}
        self.evaluated_keys = ["Properties/DeploymentConfiguration/DeploymentCircuitBreaker"]
        if not _rolls_back(deployment.get("DeploymentCircuitBreaker")):
            return CheckResult.FAILED
        if deployment.get("Strategy") in TRAFFIC_SHIFTING:
            self.evaluated_keys.append("Properties/DeploymentConfiguration/Alarms")
            alarms = deployment.get("Alarms")
            named = isinstance(alarms, dict) and bool(alarms.get("AlarmNames"))
            return CheckResult.PASSED if named and _rolls_back(alarms) else CheckResult.FAILED
        return CheckResult.PASSED


check = EcsCircuitBreakerRollback()
