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

A retried build finds its own change set of the earlier attempt and deletes it first.

A stack that does not exist yet gets no change set: every resource is added, and the offline
diff says so. Nor does a stack CloudFormation cannot update as it stands (a failed creation, a
failed rollback) or one that is changing right now (an earlier execution deploying it). Nor does
a stack that reads an output (Fn::GetStackOutput, Fn::ImportValue) that a stack before it is
about to change: CloudFormation would resolve today's value, so its change set would describe a
deploy that will not happen. All are marked "from the offline diff" with the reason. Outputs
change only when the stateful or edge stack does, so this is rare.

An output is taken to change when its expression does, when it is new, or when it names a
resource the producer's change set replaces (a new physical id, a new ARN). An attribute that
changes in an in-place update (an endpoint's address after a modify, say) is not seen: the
producer's change set does not say, and such outputs are not read across stacks here.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ops.common import CommandError, is_missing_stack
from ops.review.change_sets import ChangeSetVerdict, read_change_set

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

    from config.cloud_assembly import SynthesizedStack

REVIEW_PREFIX = "Review-"
# What the stage's prepare actions pass (CDK Pipelines): IAM resources with names (which
# covers unnamed ones), and macros. tests/ops/review checks them against the pipeline template.
CAPABILITIES = ("CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
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
    # The deployed stack the change set compared with: its status and last update.
    status: str = ""
    last_updated: dt.datetime | None = None

    @property
    def baseline(self) -> str:
        """One line: the deployed stack this verdict compares with."""
        if self.last_updated is None:
            return ""
        when = self.last_updated.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"Compared with the stack as last deployed at {when} ({self.status})."


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


def _deployed_stack(cloudformation: CloudFormationClient, stack_name: str) -> Mapping[str, Any]:
    """DescribeStacks' entry for the stack, or {} when CloudFormation holds none."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if is_missing_stack(error):
            return {}
        raise ReviewError(f"{stack_name}: DescribeStacks: {error}") from None
    return stack


# Stacks CloudFormation refuses to update as they stand (CreateChangeSet: "is in <status>
# state and can not be updated").
_STUCK = {
    "ROLLBACK_COMPLETE": "its creation failed (ROLLBACK_COMPLETE): CloudFormation cannot "
    "update it; once it is deleted the deploy creates it again, every resource added",
    "ROLLBACK_FAILED": "its creation failed and so did the rollback (ROLLBACK_FAILED): it "
    "must be deleted before it can be deployed",
    "UPDATE_ROLLBACK_FAILED": "an update's rollback failed (UPDATE_ROLLBACK_FAILED): "
    "CloudFormation updates it only once the rollback is continued (ContinueUpdateRollback)",
    "DELETE_FAILED": "its deletion failed (DELETE_FAILED): it must be deleted before it can "
    "be deployed",
    "IMPORT_ROLLBACK_FAILED": "an import's rollback failed (IMPORT_ROLLBACK_FAILED): "
    "CloudFormation updates it only once the rollback is continued",
}


def _state_reason(stack: Mapping[str, Any]) -> str:
    """Why the stack as it stands can have no change set worth reading, or "" when it can."""
    status = str(stack.get("StackStatus", ""))
    if not stack or status == "REVIEW_IN_PROGRESS":  # a stack only under review has nothing
        return "the stack does not exist yet: every resource is added"
    if status in _STUCK:
        return _STUCK[status]
    if status.endswith("_IN_PROGRESS"):
        return (
            f"the stack is changing now ({status}), most likely deployed by an earlier "
            "execution: a change set made now would compare with a stack about to change"
        )
    return ""


def _delete(clients: Clients, stack_name: str, name: str) -> None:
    try:
        clients.deploy.delete_change_set(StackName=stack_name, ChangeSetName=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ChangeSetNotFound":
            raise ReviewError(f"{stack_name}: delete review change set {name}: {error}") from None


def _clear_earlier_attempt(
    clients: Clients, stack_name: str, name: str, *, timeout: float, sleep: Callable[[float], None]
) -> None:
    """Delete this execution's change set left by a build that was stopped before its own
    clean-up (CreateChangeSet refuses a name in use); one still being created is waited for,
    as CloudFormation deletes only a settled change set."""
    leftover = read_change_set(
        clients.read, stack_name=stack_name, change_set_name=name, timeout=timeout, sleep=sleep
    )
    if leftover.outcome != "no change set":
        _delete(clients, stack_name, name)


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


# What the report says for a change set that was made but gave no verdict to read.
_UNREAD = {
    "pending": "CloudFormation had not finished its change set ({reason})",
    "failed": "CloudFormation failed its change set: {reason}",
    "no change set": "its change set was gone before it could be read (deleted by someone else)",
}


def _why_offline(
    stack: SynthesizedStack,
    *,
    deployed: Mapping[str, Mapping[str, Any]],
    reviews: Mapping[str, StackReview],
    assembly_stacks: Mapping[str, SynthesizedStack],
) -> str:
    """Why a change set for this stack would describe a deploy that will not happen (it reads
    outputs its predecessors change), or "" when it would not."""
    producers = {
        assembly_stacks[dependency].name: assembly_stacks[dependency]
        for dependency in stack.dependencies
        if dependency in assembly_stacks
    }
    read = outputs_read(stack.template, {name: s.template for name, s in producers.items()})
    changing = []
    for name, producer in producers.items():
        outputs = {entry.split("/", 1)[1] for entry in read if entry.startswith(f"{name}/")}
        if not outputs:
            continue
        review = reviews.get(name)
        if review is None or review.verdict is None:
            changing.append(f"may change in `{name}` (its own change set was not read)")
            continue
        changed = outputs & changed_outputs(
            deployed=deployed.get(name, {}), proposed=producer.template, verdict=review.verdict
        )
        if changed:
            changing.append(f"changes in `{name}` ({', '.join(sorted(changed))})")
    if changing:
        return (
            "it reads outputs that this deploy "
            + "; and that it ".join(changing)
            + ": a change set made now would resolve today's values"
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
    warn: Callable[[str], None],
) -> StackReview:
    described = _deployed_stack(client.read, stack.name)
    review = StackReview(
        stack=stack.name,
        status=str(described.get("StackStatus", "")),
        last_updated=described.get("LastUpdatedTime") or described.get("CreationTime"),
    )
    reason = _state_reason(described) or _why_offline(
        stack, deployed=deployed, reviews=reviews, assembly_stacks=assembly_stacks
    )
    if reason:
        return replace(review, offline_reason=reason)
    _clear_earlier_attempt(client, stack.name, name, timeout=timeout, sleep=sleep)
    _create(client, stack, name, execution_id=execution_id)
    try:
        verdict = read_change_set(
            client.read, stack_name=stack.name, change_set_name=name, timeout=timeout, sleep=sleep
        )
    finally:
        try:
            _delete(client, stack.name, name)
        except ReviewError as error:  # the verdict stands; the leftover is named for a person
            warn(f"{error}: delete it by hand")
    if verdict.outcome in _UNREAD:
        reason = _UNREAD[verdict.outcome].format(reason=verdict.reason.rstrip("."))
        return replace(review, offline_reason=reason)
    return replace(review, verdict=verdict)


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
                warn=warn,
            )
        # Whatever goes wrong with one stack (a refusal, an asset manifest without the
        # template) must not fail the stage the report runs in: the stack is marked instead.
        except Exception as error:
            refusal = " ".join(str(error).split())
            warn(f"{stack.name}: no review change set: {refusal}")
            review = StackReview(
                stack=stack.name,
                offline_reason=f"CloudFormation's change set could not be made: {refusal}",
            )
        reviews[stack.name] = review
    return [reviews[stack.name] for stack in stacks]
