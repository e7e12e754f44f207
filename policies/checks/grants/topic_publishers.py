"""CKV_TODO_9: an SNS topic that an AWS service publishes to grants it sns:Publish, scoped.

The publishers are found in the templates: alarm actions (CloudWatch), budget notifications
(AWS Budgets), notification rules (CodeStar Notifications, e.g. the pipeline's notify_on) and
EventBridge targets. Each needs an Allow for its service principal in the topic policy,
conditioned on a key that service sends and pinned to this account.
"""

from __future__ import annotations

from policies.checks.grants.judge import GrantCheck
from policies.checks.grants.model import Assembly, ResourceId
from policies.checks.grants.resource_policies import (
    SOURCE_ACCOUNT,
    SOURCE_ARN,
    PolicyKind,
    evaluate_targets,
)

DOCS = (
    "https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger",
    "https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html",
    "https://docs.aws.amazon.com/dtconsole/latest/userguide/troubleshooting.html",
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html",
)

KIND = PolicyKind(
    target_type="AWS::SNS::Topic",
    policy_type="AWS::SNS::TopicPolicy",
    targets_property="Topics",
    action="sns:Publish",
    verified_keys={
        # The alarm is the source: aws:SourceArn arn:aws:cloudwatch:<region>:<account>:alarm:<name>.
        "cloudwatch.amazonaws.com": frozenset({SOURCE_ARN}),
        "budgets.amazonaws.com": frozenset({SOURCE_ARN, SOURCE_ACCOUNT}),
        "codestar-notifications.amazonaws.com": frozenset({SOURCE_ACCOUNT}),
        "events.amazonaws.com": frozenset({SOURCE_ARN}),
    },
)


def evaluate(assembly: Assembly) -> dict[ResourceId, list[str]]:
    return evaluate_targets(assembly, KIND)


CHECK = GrantCheck(
    id="CKV_TODO_9",
    name="Ensure SNS topics that AWS services publish to grant them Publish, scoped to the source",
    docs=DOCS,
    evaluate=evaluate,
)
