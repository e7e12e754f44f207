"""CKV_TODO_8: a KMS key that encrypts a log group lets CloudWatch Logs use it, for our groups.

CloudWatch Logs refuses to create (or associate) a log group with a key whose policy does not
grant ``logs.<region>.amazonaws.com`` the key actions it documents, and it calls KMS with the
encryption context ``aws:logs:arn`` = the log group's ARN (no trailing ``:*``). The grant must
be conditioned on that context (ArnLike/ArnEquals), pinned to this account and region.
"""

from __future__ import annotations

from collections import defaultdict

from policies.checks.grants.judge import GrantCheck, RequestContext, judge, merge, stack_accounts
from policies.checks.grants.model import Assembly, ResourceId

DOC = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
CONTEXT_KEY = "kms:encryptioncontext:aws:logs:arn"
# One concrete action per pattern the documented statement lists
# (kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey*, kms:Describe*).
ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
]


def evaluate(assembly: Assembly) -> dict[ResourceId, list[str]]:
    results: dict[ResourceId, list[tuple[str, str]]] = defaultdict(list)
    for log_group, resource in assembly.of_type("AWS::Logs::LogGroup"):
        source = f"log group {log_group}"
        stack = assembly.stacks[log_group.stack]
        key_value = (resource.get("Properties") or {}).get("KmsKeyId")
        if key_value is None:
            continue
        key_text = assembly.text(stack, key_value)
        key = assembly.target(key_text)
        if key is None or assembly.type_of(key) != "AWS::KMS::Key":
            message = f"its KmsKeyId {key_text!r} is not a key of this assembly: not checkable"
            results[log_group].append((message, source))
            continue
        if not key_text.endswith(".Arn}") and not key_text.startswith("arn:"):
            results[log_group].append(("KmsKeyId must be the key's ARN", source))
        key_stack = assembly.stacks[key.stack]
        problems = _problems(assembly, key, log_group, same_region=key_stack.region)
        results[key] += [(problem, source) for problem in problems]
        results.setdefault(key, [])
    return {rid: merge(problems) for rid, problems in results.items()}


def _problems(
    assembly: Assembly, key: ResourceId, log_group: ResourceId, *, same_region: str
) -> list[str]:
    stack = assembly.stacks[log_group.stack]
    if same_region != stack.region or assembly.stacks[key.stack].account != stack.account:
        return [
            f"it encrypts {log_group} in another account or region, which CloudWatch Logs refuses"
        ]
    context = RequestContext(
        # The group's literal ARN: Fn::GetAtt LogGroup.Arn ends in ":*" and never matches.
        values={CONTEXT_KEY: {assembly.arn(log_group)}},
        scoping=frozenset({CONTEXT_KEY}),
        account=stack.account,
        region=stack.region,
        stack_accounts=stack_accounts(assembly),
    )
    document = assembly.resolve(
        assembly.stacks[key.stack], assembly.properties(key).get("KeyPolicy")
    )
    return judge(
        document,
        service=f"logs.{stack.region}.amazonaws.com",
        actions=ACTIONS,
        resource=None,
        context=context,
    )


CHECK = GrantCheck(
    id="CKV_TODO_8",
    name="Ensure a log group's KMS key grants CloudWatch Logs, scoped to this account's log groups",
    docs=(DOC,),
    evaluate=evaluate,
)
