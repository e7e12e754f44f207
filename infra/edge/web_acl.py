"""WAF web ACLs: AWS managed rule groups plus a per-IP rate limit.

Only CloudFront carries one. Its rate limit counts the real client address; the internal ALB
behind the VPC origin sees only CloudFront's origin-facing addresses, so a regional ACL there
would repeat the same managed rules on traffic they already passed and its per-IP limit would
throttle whole edge locations, for the price of a second ACL and its rules and requests.
"""

from __future__ import annotations

from typing import Literal

from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

# Evaluated in this order; the first two block what AWS keeps up to date for us.
MANAGED_RULE_GROUPS = ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"]
RATE_LIMIT_RULE = "RateLimitPerIp"


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


class ManagedRulesWebAcl(Construct):
    """A web ACL that allows by default and blocks what the managed groups and rate limit catch.

    ``scope`` is CLOUDFRONT (the ACL must then be created in us-east-1) or REGIONAL (same
    region as the load balancer it protects). ``rate_limit`` counts requests per client IP
    over any 5-minute window.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        waf_scope: Literal["CLOUDFRONT", "REGIONAL"],
        rate_limit: int,
    ) -> None:
        super().__init__(scope, construct_id)
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=group,
                priority=priority,
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group
                    )
                ),
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                visibility_config=_visibility(f"{name}-{group}"),
            )
            for priority, group in enumerate(MANAGED_RULE_GROUPS)
        ]
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name=RATE_LIMIT_RULE,
                priority=len(rules),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP", limit=rate_limit, evaluation_window_sec=300
                    )
                ),
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                visibility_config=_visibility(f"{name}-{RATE_LIMIT_RULE}"),
            )
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            scope=waf_scope,
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=rules,
            visibility_config=_visibility(name),
        )
        self.arn = self.web_acl.attr_arn
