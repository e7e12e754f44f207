"""CKV_TODO_11: the KMS key of a topic or queue that an AWS service delivers to grants it.

With SSE-KMS, SNS and SQS call KMS for the delivering service (the principal is the service,
e.g. cloudwatch.amazonaws.com), so the key policy must allow it kms:GenerateDataKey and
kms:Decrypt; an AWS managed key (alias/aws/sns) cannot. SNS and SQS always bind the resource
ARN as encryption context (aws:sns:topicArn, aws:sqs:arn): that condition scopes the grant to
our topic or queue whatever the service, so it is the one this check requires. Condition keys
that the delivering service may not forward to KMS (aws:SourceAccount, aws:SourceArn) are
findings: if the key is absent from the request the statement never applies.
"""

from __future__ import annotations

from collections import defaultdict

from policies.checks.grants.deliveries import Delivery, deliveries
from policies.checks.grants.judge import GrantCheck, RequestContext, judge, merge, stack_accounts
from policies.checks.grants.model import Assembly, ResourceId

DOCS = (
    "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html",
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html",
    "https://docs.aws.amazon.com/gamelift/latest/flexmatchguide/queue-notification-sns-sse.html",
)
_ENCRYPTION = {
    "AWS::SNS::Topic": ("sns", "kms:encryptioncontext:aws:sns:topicarn"),
    "AWS::SQS::Queue": ("sqs", "kms:encryptioncontext:aws:sqs:arn"),
}
ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]


def _key_problems(
    assembly: Assembly, delivery: Delivery, target: ResourceId, key: ResourceId
) -> list[str]:
    target_stack = assembly.stacks[target.stack]
    service_name, context_key = _ENCRYPTION[assembly.type_of(target)]
    context = RequestContext(
        values={
            context_key: {*assembly.identities(target), assembly.arn(target)},
            "kms:viaservice": {f"{service_name}.{target_stack.region}.amazonaws.com"},
        },
        scoping=frozenset({context_key}),
        account=target_stack.account,
        region=target_stack.region,
        stack_accounts=stack_accounts(assembly),
    )
    document = assembly.resolve(
        assembly.stacks[key.stack], assembly.properties(key).get("KeyPolicy")
    )
    return judge(
        document,
        service=delivery.service,
        actions=ACTIONS,
        resource=None,
        context=context,
    )


def evaluate(assembly: Assembly) -> dict[ResourceId, list[str]]:
    results: dict[ResourceId, list[tuple[str, str]]] = defaultdict(list)
    for target_type in _ENCRYPTION:
        for delivery in deliveries(assembly, target_type):
            source = f"the {delivery.what} of {delivery.source}"
            if delivery.target is None:
                continue  # CKV_TODO_9/10 report the target they cannot find
            target_stack = assembly.stacks[delivery.target.stack]
            key_value = assembly.properties(delivery.target).get("KmsMasterKeyId")
            if key_value is None:
                continue
            key_text = assembly.text(target_stack, key_value)
            key = assembly.target(key_text)
            if key is None or assembly.type_of(key) != "AWS::KMS::Key":
                message = (
                    f"it is encrypted with {key_text!r}, not a key of this assembly: an AWS "
                    f"managed key cannot grant {delivery.service}, another key cannot be checked"
                )
                results[delivery.target].append((message, source))
                continue
            problems = _key_problems(assembly, delivery, delivery.target, key)
            results[key] += [(p, f"{source} to {delivery.target}") for p in problems]
            results.setdefault(key, [])
    return {rid: merge(problems) for rid, problems in results.items()}


CHECK = GrantCheck(
    id="CKV_TODO_11",
    name="Ensure the KMS key of a topic or queue that AWS services deliver to grants them, scoped",
    docs=DOCS,
    evaluate=evaluate,
)
