"""Review change sets: CloudFormation's own verdict on this commit, read before the approval.

For each stack of one environment, in the order the stage deploys them, the change report uses
the roles `cdk bootstrap --trust <pipeline account>` creates, as `cdk deploy` does:

1. the file-publishing role uploads the template to the bootstrap bucket, where `cdk deploy`
   puts it (the pipeline's deploy actions read templates from their artifact, so nothing else
   publishes them, and CloudFormation reads a template over 51,200 bytes only from S3);
2. the deploy role creates the change set ``Review-<pipeline execution id>``, passing the
   stack's CloudFormation execution role, exactly as the stage's prepare action will;
3. the lookup role reads it (DescribeChangeSet, ops/review/change_sets.py);
4. the deploy role deletes it. Nothing here executes a change set.

A stack that does not exist yet gets no change set: every resource is added, and the offline
diff says so. Neither does a stack that reads an output (Fn::GetStackOutput, Fn::ImportValue)
that a stack before it is about to change: CloudFormation would resolve today's value, so its
change set would describe a deploy that will not happen. Both are marked "from the offline diff"
with the reason. Outputs change only when the stateful or edge stack does, so this is rare.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ops.common import CommandError, is_missing_stack
from ops.review.change_sets import ChangeSetVerdict, read_change_set

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

    from config.cloud_assembly import SynthesizedStack

REVIEW_PREFIX = "Review-"
# What the stage's prepare actions pass (CDK Pipelines): IAM resources with names, and macros.
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
# A large stack's change set takes CloudFormation a minute or two to compute.
CREATE_TIMEOUT_SECONDS = 600.0
_CHANGE_SET_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")


class ReviewError(CommandError):
    """A review change set could not be created or deleted; the message names the stack."""


def review_change_set_name(execution_id: str) -> str:
    """The change set of one pipeline execution (CloudFormation: [a-zA-Z][-a-zA-Z0-9]*, ≤ 128)."""
    name = f"{REVIEW_PREFIX}{execution_id}"
    if not _CHANGE_SET_NAME.fullmatch(name):
        raise ReviewError(f"execution id {execution_id!r} cannot name a change set")
    return name


@dataclass(frozen=True, kw_only=True)
class StackReview:
    """One stack's part of the report: CloudFormation's verdict, or why there is none."""

    stack: str
    verdict: ChangeSetVerdict | None = None
    offline_reason: str = ""  # set when the verdict comes from the offline diff


@dataclass(frozen=True, kw_only=True)
class Clients:
    """The three roles' clients for the stack's region."""

    publish: Any  # an S3 client of the file-publishing role (no S3 stubs in the lock)
    deploy: CloudFormationClient  # the deploy role: create and delete only
    read: CloudFormationClient  # the lookup role: describe only


# -------------------------------------------------------------------- what a stack reads


def _references(node: Any) -> Iterator[tuple[str, str]]:
    """("output", "<stack>/<output>") and ("export", name) read anywhere in ``node``."""
    if isinstance(node, Mapping):
        reference = node.get("Fn::GetStackOutput")
        if isinstance(reference, Mapping) and isinstance(reference.get("StackName"), str):
            yield "output", f"{reference['StackName']}/{reference.get('OutputName')}"
        export = node.get("Fn::ImportValue")
        if isinstance(export, str):
            yield "export", export
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def outputs_read(template: Mapping[str, Any], producers: Mapping[str, Any]) -> set[str]:
    """The "<stack>/<output>" of every producer output ``template`` reads (exports resolved
    to the output that declares them); ``producers`` are templates by stack name."""
    exports = {
        output["Export"]["Name"]: f"{stack}/{name}"
        for stack, producer in producers.items()
        for name, output in producer.get("Outputs", {}).items()
        if isinstance(output.get("Export", {}).get("Name"), str)
    }
    read = set()
    for kind, value in _references(template.get("Resources", {})):
        if kind == "output" and value.split("/", 1)[0] in producers:
            read.add(value)
        elif kind == "export" and value in exports:
            read.add(exports[value])
    return read


def _resources_named(node: Any) -> Iterator[str]:
    """The logical ids ``node`` refers to with Ref, Fn::GetAtt or Fn::Sub."""
    if isinstance(node, Mapping):
        if isinstance(node.get("Ref"), str):
            yield node["Ref"]
        attribute = node.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute:
            yield str(attribute[0])
        elif isinstance(attribute, str):
            yield attribute.split(".", 1)[0]
        text = node.get("Fn::Sub")
        text = text[0] if isinstance(text, list) and text else text
        if isinstance(text, str):
            yield from (name.split(".", 1)[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text))
        for value in node.values():
            yield from _resources_named(value)
    elif isinstance(node, list):
        for value in node:
            yield from _resources_named(value)


def changed_outputs(
    *,
    deployed: Mapping[str, Any],
    proposed: Mapping[str, Any],
    verdict: ChangeSetVerdict,
) -> set[str]:
    """The outputs of a stack whose value this deploy changes: new ones, ones written
    differently, and ones naming a resource the change set replaces (its id changes)."""
    replaced = {change.logical_id for change in verdict.resources if change.replaced}
    before = deployed.get("Outputs", {})
    changed = set()
    for name, output in proposed.get("Outputs", {}).items():
        value = output.get("Value")
        rewritten = name not in before or before[name].get("Value") != value
        if rewritten or replaced & set(_resources_named(value)):
            changed.add(name)
    return changed


# -------------------------------------------------------------------- one stack


def _exists(cloudformation: CloudFormationClient, stack_name: str) -> bool:
    """True for a stack CloudFormation holds (a stack only under review has no resources)."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if is_missing_stack(error):
            return False
        raise ReviewError(f"{stack_name}: DescribeStacks: {error}") from None
    return stack["StackStatus"] != "REVIEW_IN_PROGRESS"


def _create(clients: Clients, stack: SynthesizedStack, name: str, *, execution_id: str) -> None:
    destination = stack.template_destination
    try:
        clients.publish.put_object(
            Bucket=destination.bucket,
            Key=destination.key,
            Body=stack.template_file.read_bytes(),
            ContentType="application/json",
        )
        clients.deploy.create_change_set(
            StackName=stack.name,
            ChangeSetName=name,
            ChangeSetType="UPDATE",
            TemplateURL=destination.url,
            RoleARN=stack.execution_role_arn,
            Capabilities=list(CAPABILITIES),  # type: ignore[arg-type]
            Description=f"Review of pipeline execution {execution_id}; never executed"[:1024],
        )
    except ClientError as error:
        raise ReviewError(f"{stack.name}: review change set {name}: {error}") from None


def _delete(clients: Clients, stack_name: str, name: str) -> None:
    try:
        clients.deploy.delete_change_set(StackName=stack_name, ChangeSetName=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ChangeSetNotFound":
            raise ReviewError(f"{stack_name}: delete review change set {name}: {error}") from None


def _why_offline(
    stack: SynthesizedStack,
    *,
    exists: bool,
    deployed: Mapping[str, Mapping[str, Any]],
    reviews: Mapping[str, StackReview],
    assembly_stacks: Mapping[str, SynthesizedStack],
) -> str:
    """Why this stack can have no true change set yet, or "" when it can."""
    if not exists:
        return "the stack does not exist yet: every resource is added"
    producers = {
        assembly_stacks[dependency].name: assembly_stacks[dependency]
        for dependency in stack.dependencies
        if dependency in assembly_stacks
    }
    read = outputs_read(stack.template, {name: s.template for name, s in producers.items()})
    changing = []
    for name, producer in producers.items():
        review = reviews[name]
        outputs = {entry.split("/", 1)[1] for entry in read if entry.startswith(f"{name}/")}
        if not outputs:
            continue
        if review.verdict is None or review.verdict.outcome not in {"changes", "no changes"}:
            changing.append(f"`{name}` (its own verdict is not known)")
            continue
        changed = outputs & changed_outputs(
            deployed=deployed.get(name, {}), proposed=producer.template, verdict=review.verdict
        )
        if changed:
            changing.append(f"`{name}` ({', '.join(sorted(changed))})")
    if changing:
        return (
            "it reads outputs that this deploy changes in "
            + "; ".join(changing)
            + ": its change set can exist only once they are deployed"
        )
    return ""


# -------------------------------------------------------------------- an environment


def _review_stack(
    stack: SynthesizedStack,
    *,
    name: str,
    execution_id: str,
    client: Clients,
    reviews: Mapping[str, StackReview],
    deployed: Mapping[str, Mapping[str, Any]],
    assembly_stacks: Mapping[str, SynthesizedStack],
    timeout: float,
    sleep: Callable[[float], None],
) -> StackReview:
    reason = _why_offline(
        stack,
        exists=_exists(client.read, stack.name),
        deployed=deployed,
        reviews=reviews,
        assembly_stacks=assembly_stacks,
    )
    if reason:
        return StackReview(stack=stack.name, offline_reason=reason)
    _create(client, stack, name, execution_id=execution_id)
    try:
        verdict = read_change_set(
            client.read, stack_name=stack.name, change_set_name=name, timeout=timeout, sleep=sleep
        )
    finally:
        _delete(client, stack.name, name)
    return StackReview(stack=stack.name, verdict=verdict)


def review_environment(
    stacks: Sequence[SynthesizedStack],
    *,
    execution_id: str,
    clients: Callable[[SynthesizedStack], Clients],
    deployed: Mapping[str, Mapping[str, Any]],
    timeout: float = CREATE_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    warn: Callable[[str], None] = lambda _line: None,
) -> list[StackReview]:
    """Every stack's review, in ``stacks``' order (the manifest lists dependencies first).

    ``deployed`` holds the deployed templates by stack name. Each change set is created, read
    and deleted before the next stack is looked at, because a dependent stack's verdict
    depends on what its predecessors' change sets say about their outputs.

    A review that AWS refuses (a role that may not be assumed, a stack busy with an update)
    does not fail the report: the report runs in the previous environment's stage, where a
    failure would roll that environment back. The stack is reported from the offline diff with
    the refusal in one line, which ``warn`` also gets.
    """
    name = review_change_set_name(execution_id)
    by_artifact = {stack.artifact_id: stack for stack in stacks}
    reviews: dict[str, StackReview] = {}
    for stack in stacks:
        try:
            review = _review_stack(
                stack,
                name=name,
                execution_id=execution_id,
                client=clients(stack),
                reviews=reviews,
                deployed=deployed,
                assembly_stacks=by_artifact,
                timeout=timeout,
                sleep=sleep,
            )
        except (CommandError, ClientError, BotoCoreError) as error:
            refusal = " ".join(str(error).split())
            warn(f"{stack.name}: no review change set: {refusal}")
            review = StackReview(
                stack=stack.name,
                offline_reason=f"CloudFormation's change set could not be made: {refusal}",
            )
        reviews[stack.name] = review
    return [reviews[stack.name] for stack in stacks]
