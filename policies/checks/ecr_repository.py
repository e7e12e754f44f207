"""CKV_TODO_2: ECR repositories have immutable tags and scan every pushed image.

Image tags are content fingerprints that a revert redeploys, so a tag must never move; the scan
gate reads the push scan's findings.
"""

from __future__ import annotations

from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class EcrImmutableAndScanned(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure ECR repositories have IMMUTABLE tags and scan on push",
            id="CKV_TODO_2",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("AWS::ECR::Repository",),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = [
            "Properties/ImageTagMutability",
            "Properties/ImageScanningConfiguration/ScanOnPush",
        ]
        properties = conf.get("Properties") or {}
        scanning = properties.get("ImageScanningConfiguration") or {}
        immutable = properties.get("ImageTagMutability") == "IMMUTABLE"
        scan_on_push = scanning.get("ScanOnPush") in (True, "true", "True")
        return CheckResult.PASSED if immutable and scan_on_push else CheckResult.FAILED


check = EcrImmutableAndScanned()
