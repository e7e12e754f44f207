"""The us-east-1 stack of one environment: the CloudFront-scope web ACL."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from infra.edge.web_acl import ManagedRulesWebAcl
from infra.environment_stack import EnvironmentStack

# CloudFront only attaches web ACLs of scope CLOUDFRONT, and those exist only in us-east-1.
CLOUDFRONT_WAF_REGION = "us-east-1"


class EdgeStack(EnvironmentStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        acl_name: str,
        rate_limit: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if self.region != CLOUDFRONT_WAF_REGION:
            raise ValueError(f"{self.stack_name} must deploy to {CLOUDFRONT_WAF_REGION}")
        self.web_acl = ManagedRulesWebAcl(
            self, "CloudFrontAcl", name=acl_name, waf_scope="CLOUDFRONT", rate_limit=rate_limit
        )
