"""CloudFormation's own verdict on a deploy: the change sets the pipeline's prepare actions create.

The offline template diff (ops/review/template_diff.py) infers replacements from the resource
schemas; a change set is what CloudFormation will actually do, with the deployed parameters,
the resolved references and the cross-stack outputs in hand. `read_change_set` reads one
(DescribeChangeSet only: the role that calls it may do nothing else), `stateful_consequences`
says what happens to the data of each stateful resource it replaces or removes, and
`render_markdown` writes the section the approver reads.

    python -m ops.review.change_sets --environment staging --template-dir cdk.out \
        --role-arn ARN --out change-sets.md        (`make change-sets ENV=staging`)
    python -m ops.review.change_sets --stack todo-staging-stateful [--stack ...] ...

The role may only describe change sets, so a removed resource's DeletionPolicy is known only
when the change set states it (PolicyAction); the report says so when it does not.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from config.cloud_assembly import PIPELINE
from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.paths import ASSEMBLY_DIR
from ops.common import (
    CommandError,
    aws_session,
    cloud_assembly_or_exit,
    cloudformation_clients,
    is_missing_stack,
    write_atomically,
)
from ops.review import stateful

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

    from config.cloud_assembly import SynthesizedStack

# CDK Pipelines' CloudFormation prepare actions name every change set so unless told otherwise.
PIPELINE_CHANGE_SET = "PipelineChange"
PENDING_STATUSES = frozenset({"CREATE_PENDING", "CREATE_IN_PROGRESS"})
TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 5.0
# How CloudFormation words a change set that changes nothing: it fails it rather than leave an
# empty one, and the pipeline's prepare action then has nothing to execute.
_NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")

Outcome = Literal["changes", "no changes", "no change set", "pending", "failed"]


@dataclass(frozen=True, kw_only=True)
class Cause:
    """One ResourceChangeDetail: what changes on the resource, and why."""

    attribute: str  # Properties, Tags, Metadata, DeletionPolicy, UpdateReplacePolicy...
    name: str | None = None  # the property, for attribute Properties
    path: str | None = None
    requires_recreation: str | None = None  # Always / Conditionally / Never
    evaluation: str | None = None  # Static / Dynamic
    change_source: str | None = None  # DirectModification, ResourceReference...
    causing_entity: str | None = None  # the resource, parameter or Resource.Attribute referred to


@dataclass(frozen=True, kw_only=True)
class ResourceVerdict:
    logical_id: str
    resource_type: str
    action: str  # Add / Modify / Remove / Import / Dynamic
    replacement: str | None = None  # "True" / "Conditional" / "False"; absent for Add, Remove
    causes: tuple[Cause, ...] = ()
    # Newer change sets say what the replacement or removal does with the old resource.
    policy_action: str | None = None

    @property
    def replaced(self) -> bool:
        return self.replacement in {"True", "Conditional"}


@dataclass(frozen=True, kw_only=True)
class ChangeSetVerdict:
    stack_name: str
    change_set_name: str
    outcome: Outcome
    resources: tuple[ResourceVerdict, ...] = ()
    reason: str = ""  # for "pending" and "failed", one line
    execution_status: str | None = None


class ChangeSetError(CommandError):
    """DescribeChangeSet was refused for a reason other than a missing change set."""


def _cause(detail: Mapping[str, Any]) -> Cause:
    target = detail.get("Target", {})
    return Cause(
        attribute=str(target.get("Attribute", "Properties")),
        name=target.get("Name"),
        path=target.get("Path"),
        requires_recreation=target.get("RequiresRecreation"),
        evaluation=detail.get("Evaluation"),
        change_source=detail.get("ChangeSource"),
        causing_entity=detail.get("CausingEntity"),
    )


def _resource(change: Mapping[str, Any]) -> ResourceVerdict:
    resource = change["ResourceChange"]
    return ResourceVerdict(
        logical_id=resource["LogicalResourceId"],
        resource_type=resource["ResourceType"],
        action=resource["Action"],
        replacement=resource.get("Replacement"),
        causes=tuple(_cause(detail) for detail in resource.get("Details", [])),
        policy_action=resource.get("PolicyAction"),
    )


def _describe(
    cloudformation: CloudFormationClient,
    *,
    stack_name: str,
    change_set_name: str,
    next_token: str | None = None,
) -> Mapping[str, Any] | None:
    """One page, or None when there is no such change set (or no such stack yet)."""
    extra = {"NextToken": next_token} if next_token else {}
    try:
        return cloudformation.describe_change_set(
            StackName=stack_name,
            ChangeSetName=change_set_name,
            IncludePropertyValues=False,
            **extra,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ChangeSetNotFound":
            return None
        if is_missing_stack(error):
            return None
        raise ChangeSetError(
            f"{stack_name}: DescribeChangeSet {change_set_name}: {error}"
        ) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _settled(verdict: ChangeSetVerdict, page: Mapping[str, Any]) -> ChangeSetVerdict | None:
    """The verdict for a change set that holds no changes to read, else None."""
    status = str(page.get("Status"))
    reason = _one_line(str(page.get("StatusReason", "")))
    if status == "FAILED" and any(words in reason for words in _NO_CHANGE_REASONS):
        return replace(verdict, outcome="no changes")
    if status != "CREATE_COMPLETE":
        return replace(verdict, outcome="failed", reason=reason or f"status {status}")
    return None


def _created(
    cloudformation: CloudFormationClient,
    verdict: ChangeSetVerdict,
    *,
    timeout: float,
    poll_seconds: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Mapping[str, Any] | ChangeSetVerdict:
    """The first page once CloudFormation has finished the change set, or why there is none."""
    names = {"stack_name": verdict.stack_name, "change_set_name": verdict.change_set_name}
    deadline = clock() + timeout
    page = _describe(cloudformation, **names)
    while page is not None and page.get("Status") in PENDING_STATUSES:
        if clock() >= deadline:
            return replace(
                verdict, outcome="pending", reason=f"still {page['Status']} after {timeout:g} s"
            )
        sleep(poll_seconds)
        page = _describe(cloudformation, **names)
    if page is None:
        return replace(verdict, outcome="no change set")
    return page


def read_change_set(
    cloudformation: CloudFormationClient,
    *,
    stack_name: str,
    change_set_name: str = PIPELINE_CHANGE_SET,
    timeout: float = TIMEOUT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ChangeSetVerdict:
    """What CloudFormation says executing ``change_set_name`` on ``stack_name`` will do.

    A change set still being created is polled until it is done or ``timeout`` has passed;
    every page of a complete one is read. Raises ChangeSetError only when the call is refused.
    """
    verdict = ChangeSetVerdict(
        stack_name=stack_name, change_set_name=change_set_name, outcome="changes"
    )
    page = _created(
        cloudformation,
        verdict,
        timeout=timeout,
        poll_seconds=poll_seconds,
        clock=clock,
        sleep=sleep,
    )
    if isinstance(page, ChangeSetVerdict):
        return page
    verdict = replace(verdict, execution_status=page.get("ExecutionStatus"))
    if (settled := _settled(verdict, page)) is not None:
        return settled
    resources = [_resource(change) for change in page.get("Changes", [])]
    while token := page.get("NextToken"):
        next_page = _describe(
            cloudformation, stack_name=stack_name, change_set_name=change_set_name, next_token=token
        )
        if next_page is None:
            # Deleted between two pages (the pipeline moved on): half a verdict is none.
            return replace(verdict, outcome="no change set")
        page = next_page
        resources += [_resource(change) for change in page.get("Changes", [])]
    return replace(verdict, resources=tuple(resources))


# The stateful consequence of a replacement or removal (ops/review/stateful.py decides it).

Event = Literal["replaced", "may be replaced", "removed"]
# The change set's own PolicyAction: the policy it amounts to.
_POLICY_ACTIONS = {
    "ReplaceAndRetain": "Retain",
    "ReplaceAndSnapshot": "Snapshot",
    "ReplaceAndDelete": "Delete",
    "Retain": "Retain",
    "Snapshot": "Snapshot",
    "Delete": "Delete",
}


@dataclass(frozen=True, kw_only=True)
class StatefulConsequence:
    logical_id: str
    resource_type: str
    event: Event
    policy: str  # where the outcome comes from, e.g. "UpdateReplacePolicy Snapshot"
    consequence: str


def _policy(
    change: ResourceVerdict, resource: Mapping[str, Any] | None, *, removed: bool
) -> tuple[str, str | None]:
    """(where the policy comes from, the policy); None when nothing says."""
    if change.policy_action in _POLICY_ACTIONS:
        return f"change set PolicyAction {change.policy_action}", _POLICY_ACTIONS[
            change.policy_action
        ]
    if resource is None:
        attribute = "DeletionPolicy" if removed else "UpdateReplacePolicy"
        return f"{attribute} unknown (the deployed template was not read)", None
    return stateful.template_policy(resource, removed=removed)


def _consequence(change: ResourceVerdict, resource: Mapping[str, Any] | None) -> tuple[str, str]:
    """(where the outcome comes from, what happens to the data)."""
    removed = change.action == "Remove"
    source, policy = _policy(change, resource, removed=removed)
    outcome = stateful.data_outcome(
        resource_type=change.resource_type, resource=resource, policy=policy, removed=removed
    )
    return source, outcome


def stateful_consequences(
    verdict: ChangeSetVerdict,
    *,
    proposed: Mapping[str, Any],
    deployed: Mapping[str, Any] | None = None,
) -> list[StatefulConsequence]:
    """What happens to the data of every stateful resource the change set replaces or removes.

    A replacement follows the UpdateReplacePolicy of ``proposed`` (the template being deployed);
    a removed resource is no longer in it, so its DeletionPolicy is read from ``deployed``.
    """
    consequences = []
    for change in verdict.resources:
        removed = change.action == "Remove"
        if change.resource_type not in stateful.STATEFUL_TYPES or not (removed or change.replaced):
            continue
        template = (deployed or {}) if removed else proposed
        resource = template.get("Resources", {}).get(change.logical_id)
        event: Event = "removed" if removed else "replaced"
        if change.replacement == "Conditional":
            event = "may be replaced"
        source, consequence = _consequence(change, resource)
        consequences.append(
            StatefulConsequence(
                logical_id=change.logical_id,
                resource_type=change.resource_type,
                event=event,
                policy=source,
                consequence=consequence,
            )
        )
    return consequences


# The report section.

# A stage prepares a stack's change set only once the stacks it reads from have deployed, and
# CloudFormation deletes a change set once it executes.
NO_CHANGE_SET_YET = (
    "No change set waiting: the stage has not prepared this stack yet (it waits for the stacks "
    "it reads from), or its change set has executed"
)
_RECREATION_ORDER = ("Always", "Conditionally")
_SUMMARY_ORDER = ("replaced", "may be replaced", "modified", "added", "removed", "imported")


def _kind(change: ResourceVerdict) -> str:
    if change.replacement == "True":
        return "replaced"
    if change.replacement == "Conditional":
        return "may be replaced"
    return {"Modify": "modified", "Add": "added", "Remove": "removed", "Import": "imported"}.get(
        change.action, change.action.lower()
    )


def _via(cause: Cause) -> str | None:
    if not cause.causing_entity:
        return None
    if cause.change_source == "ParameterReference":
        return f"parameter `{cause.causing_entity}`"
    return f"`{cause.causing_entity}`"


def _caused_by(change: ResourceVerdict) -> str:
    """Each changed property once: the strongest recreation it forces and what it refers to."""
    grouped: dict[str, list[Cause]] = {}
    for cause in change.causes:
        label = cause.name if cause.attribute == "Properties" and cause.name else cause.attribute
        grouped.setdefault(label, []).append(cause)
    parts = []
    for label, causes in grouped.items():
        recreation = next(
            (
                level
                for level in _RECREATION_ORDER
                if any(c.requires_recreation == level for c in causes)
            ),
            None,
        )
        vias = list(dict.fromkeys(via for cause in causes if (via := _via(cause))))
        notes = ([recreation] if recreation else []) + ([f"via {', '.join(vias)}"] if vias else [])
        parts.append(f"`{label}`" + (f" ({', '.join(notes)})" if notes else ""))
    return "; ".join(parts) or "—"


def _header(verdict: ChangeSetVerdict) -> str:
    where = f"From CloudFormation's change set `{verdict.change_set_name}`"
    if verdict.outcome == "no change set":
        return f"{NO_CHANGE_SET_YET}."
    if verdict.outcome == "no changes":
        return f"{where}: no changes."
    if verdict.outcome in {"pending", "failed"}:
        state = "not ready" if verdict.outcome == "pending" else "failed"
        return f"{where}: {state}: {verdict.reason.rstrip('.')}."
    counts = [_kind(change) for change in verdict.resources]
    order = list(_SUMMARY_ORDER) + sorted(set(counts) - set(_SUMMARY_ORDER))
    summary = ", ".join(f"{counts.count(kind)} {kind}" for kind in order if kind in counts)
    return f"{where}: {summary or 'no changes'}."


def _row(change: ResourceVerdict, *, at_risk: bool) -> str:
    resource = f"**`{change.logical_id}`**" if at_risk else f"`{change.logical_id}`"
    return (
        f"| {resource} | {change.resource_type} | {change.action} | "
        f"{change.replacement or '—'} | {_caused_by(change)} |"
    )


# A change set that is no longer waiting for its execute action: what it says is not what the
# approval would let deploy.
_EXECUTION_WARNINGS = {
    "OBSOLETE": (
        "CloudFormation marks this change set OBSOLETE: the stack changed after it was "
        "created, so it may not be what deploys."
    ),
    "EXECUTE_IN_PROGRESS": "CloudFormation is executing this change set already.",
    "EXECUTE_COMPLETE": "CloudFormation has executed this change set already.",
    "EXECUTE_FAILED": "CloudFormation executed this change set and the update failed.",
}


def render_stack(
    verdict: ChangeSetVerdict,
    *,
    proposed: Mapping[str, Any] | None = None,
    deployed: Mapping[str, Any] | None = None,
    baseline: str = "",
) -> list[str]:
    """One stack's section; ``baseline`` says which deployed stack the change set compared with."""
    lines = [f"### `{verdict.stack_name}`", "", _header(verdict), *([baseline] if baseline else [])]
    if warning := _EXECUTION_WARNINGS.get(verdict.execution_status or ""):
        lines.append(warning)
    if not verdict.resources:
        return [*lines, ""]
    consequences = stateful_consequences(verdict, proposed=proposed or {}, deployed=deployed)
    at_risk = {consequence.logical_id for consequence in consequences}
    lines += [
        "",
        "| Resource | Type | Action | Replacement | Caused by |",
        "| --- | --- | --- | --- | --- |",
        *(_row(change, at_risk=change.logical_id in at_risk) for change in verdict.resources),
        "",
    ]
    lines += [
        f"- **`{c.logical_id}` ({c.resource_type}) {c.event}: {c.consequence} ({c.policy}).**"
        for c in consequences
    ]
    return [*lines, ""] if consequences else lines


def render_markdown(
    verdicts: Sequence[ChangeSetVerdict],
    *,
    proposed: Mapping[str, Mapping[str, Any]] | None = None,
    deployed: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """A section per stack; ``proposed`` and ``deployed`` are templates by stack name."""
    lines = ["## CloudFormation change sets", ""]
    for verdict in verdicts:
        lines += render_stack(
            verdict,
            proposed=(proposed or {}).get(verdict.stack_name),
            deployed=(deployed or {}).get(verdict.stack_name),
        )
    return "\n".join(lines).rstrip() + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="CloudFormation's verdict on the next deploy")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", dest="stacks", action="append")
    target.add_argument("--environment", help="every stack of this environment in the assembly")
    parser.add_argument("--change-set-name", default=PIPELINE_CHANGE_SET)
    parser.add_argument(
        "--template-dir",
        type=Path,
        default=ASSEMBLY_DIR,
        help="the cloud assembly holding the stacks' templates: cdk.out or a stage's assembly",
    )
    parser.add_argument(
        "--region", help="where the role is assumed (default: the first stack's region)"
    )
    parser.add_argument("--role-arn", help="a role that may describe the change sets")
    parser.add_argument("--out", type=Path, required=True)
    return parser


def read_verdicts(
    *,
    stacks: Sequence[SynthesizedStack],
    change_set_name: str,
    region: str,
    role_arn: str | None,
) -> list[ChangeSetVerdict]:
    """Each stack's verdict, read in the stack's own region (the edge stack is in us-east-1)."""
    session = aws_session(region=region, role_arn=role_arn, session_name="change-sets")
    clients = cloudformation_clients(session, (stack.region or region for stack in stacks))
    return [
        read_change_set(
            clients[stack.region or region], stack_name=stack.name, change_set_name=change_set_name
        )
        for stack in stacks
    ]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    assembly = cloud_assembly_or_exit(args.template_dir, command="change sets")
    if args.environment is not None:
        stacks = assembly.environment_stacks(args.environment)
        if not stacks:
            known = ", ".join(name for name in assembly.environments if name != PIPELINE)
            print(
                f"change sets: no environment {args.environment!r} in {args.template_dir} "
                f"(it has: {known})",
                file=sys.stderr,
            )
            return BAD_INPUT
    else:
        try:
            stacks = [assembly.stack(name) for name in args.stacks]
        except KeyError as error:
            print(
                f"change sets: no stack {error.args[0]!r} in {args.template_dir}", file=sys.stderr
            )
            return BAD_INPUT
    try:
        verdicts = read_verdicts(
            stacks=stacks,
            change_set_name=args.change_set_name,
            region=args.region or stacks[0].region,
            role_arn=args.role_arn,
        )
    except (CommandError, ClientError, BotoCoreError) as error:
        print(f"change sets: {error}", file=sys.stderr)
        return getattr(error, "exit_code", FAILURE)
    text = render_markdown(verdicts, proposed={stack.name: stack.template for stack in stacks})
    write_atomically(args.out, text)
    print(text, end="")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
