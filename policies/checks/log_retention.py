"""CKV_TODO_5: CloudWatch log groups expire their events (the default keeps them forever)."""

from __future__ import annotations

from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class LogGroupRetention(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure CloudWatch log groups set a retention (RetentionInDays)",
            id="CKV_TODO_5",
            categories=(CheckCategories.LOGGING,),
            supported_resources=("AWS::Logs::LogGroup",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["Properties/RetentionInDays"]
        retention = (conf.get("Properties") or {}).get("RetentionInDays")
        return CheckResult.FAILED if retention in (None, "") else CheckResult.PASSED


check = LogGroupRetention()
