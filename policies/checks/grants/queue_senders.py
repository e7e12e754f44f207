"""CKV_TODO_10: an SQS queue that an AWS service sends to grants it sqs:SendMessage, scoped.

The senders are found in the templates: EventBridge targets and their dead-letter queues, and
SNS subscriptions. Each needs an Allow for its service principal in the queue policy,
conditioned on aws:SourceArn (the rule or topic).
"""

from __future__ import annotations

from policies.checks.grants.judge import GrantCheck
from policies.checks.grants.model import Assembly, ResourceId
from policies.checks.grants.resource_policies import SOURCE_ARN, PolicyKind, evaluate_targets

DOCS = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html",
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html",
    "https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html",
)

KIND = PolicyKind(
    target_type="AWS::SQS::Queue",
    policy_type="AWS::SQS::QueuePolicy",
    targets_property="Queues",
    action="sqs:SendMessage",
    verified_keys={
        "events.amazonaws.com": frozenset({SOURCE_ARN}),
        "sns.amazonaws.com": frozenset({SOURCE_ARN}),
    },
)


def evaluate(assembly: Assembly) -> dict[ResourceId, list[str]]:
    return evaluate_targets(assembly, KIND)


CHECK = GrantCheck(
    id="CKV_TODO_10",
    name="Ensure SQS queues that AWS services send to grant them SendMessage, scoped to the source",
    docs=DOCS,
    evaluate=evaluate,
)
