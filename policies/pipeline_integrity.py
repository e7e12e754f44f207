"""Invariants of the synthesized pipeline that no commit may remove or weaken.

The pipeline mutates itself: whatever a merged commit synthesizes, the SelfMutate action applies.
So the Build stage's policy gate judges the synthesized ``AWS::CodePipeline::Pipeline`` (and
the roles of its stack) before that can happen, against the organisation's floor in
``policies/pipeline-integrity.yaml`` and the environment file:

- ``approval``: every environment with ``approval_required``, and every environment the
  organisation always approves (prod) whatever the file says, has its change report and then
  a manual approval before its first deploy action;
- ``scan-gate``: the image scan gate runs in a stage before the first environment's;
- ``bake-floor``: each environment's Verify bakes at least the organisation's floor;
- ``step-roles``: in an environment's account, a role of the pipeline stack may assume only
  the CDK bootstrap roles (deploy, asset publishing, read-only lookup) and the environment's
  post-deploy checks role (config.names.checks_role_name) while that role may do nothing but
  CHECKS_ROLE_ACTIONS on a user pool, never another role and never ``*``;
- ``rollback``: every environment stage rolls back automatically on failure.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.cloud_assembly import PIPELINE_TYPE, codepipeline, read_cloud_assembly
from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.model import (
    ConfigError,
    EnvironmentConfig,
    checks_sign_in,
    config_file,
    load_config,
)
from config.names import CHECKS_ROLE_ACTIONS, checks_role_name

POLICY_FILE = Path(__file__).resolve().parent / "pipeline-integrity.yaml"
INVARIANTS = ("approval", "scan-gate", "bake-floor", "step-roles", "rollback")
_BOOTSTRAP_ROLE = re.compile(
    r"^arn:[^:]+:iam::(\d{12}):role/cdk-[a-z0-9]+-"
    r"(deploy|file-publishing|image-publishing|lookup)-role-(\d{12})-[a-z0-9-]+$"
)


@dataclass(frozen=True)
class Violation:
    invariant: str
    message: str

    def __str__(self) -> str:
        return f"pipeline integrity [{self.invariant}]: {self.message}"


@dataclass(frozen=True, kw_only=True)
class Floor:
    """The organisation's floor (policies/pipeline-integrity.yaml)."""

    always_approved: frozenset[str]
    bake_floor_minutes: Mapping[str, int]


def load_floor(path: Path = POLICY_FILE) -> Floor:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Floor(
        always_approved=frozenset(data.get("always_approved", [])),
        bake_floor_minutes=dict(data.get("bake_floor_minutes", {})),
    )


Template = Mapping[str, Any]


def _pipeline(template: Template) -> dict[str, Any]:
    properties = codepipeline(template)
    if properties is None:
        raise ValueError(f"the pipeline stack has no {PIPELINE_TYPE}")
    return properties


def _project(template: Template, action: Mapping[str, Any]) -> dict[str, Any]:
    project = action.get("Configuration", {}).get("ProjectName", {})
    if not isinstance(project, dict) or "Ref" not in project:
        return {}
    return dict(template["Resources"].get(project["Ref"], {}).get("Properties", {}))


def _project_buildspec(template: Template, action: Mapping[str, Any]) -> str:
    return str(_project(template, action).get("Source", {}).get("BuildSpec", ""))


def _variables(template: Template, action: Mapping[str, Any]) -> dict[str, str]:
    """The literal environment of a CodeBuild action, with CodeBuild's precedence: the
    buildspec's, overridden by the project's, overridden by the action's (an intrinsic is not
    literal: left out). https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html
    """
    project = _project(template, action)
    variables = {
        str(key): str(value)
        for key, value in (
            _buildspec(template, action).get("env", {}).get("variables", {}) or {}
        ).items()
    }
    variables |= {
        item["Name"]: item["Value"]
        for item in project.get("Environment", {}).get("EnvironmentVariables", [])
        if isinstance(item.get("Value"), str)
    }
    raw = action.get("Configuration", {}).get("EnvironmentVariables", "[]")
    if isinstance(raw, str):
        variables |= {item["name"]: str(item["value"]) for item in json.loads(raw)}
    return variables


def _buildspec(template: Template, action: Mapping[str, Any]) -> dict[str, Any]:
    try:
        parsed = json.loads(_project_buildspec(template, action) or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _commands(template: Template, action: Mapping[str, Any]) -> list[str]:
    phases = _buildspec(template, action).get("phases", {})
    return [str(c).strip() for phase in phases.values() for c in phase.get("commands", [])]


def _position(stages: Sequence[Mapping[str, Any]], action_name: str) -> tuple[int, int] | None:
    """(stage index, run order) of the action named ``action_name``."""
    for index, stage in enumerate(stages):
        for action in stage["Actions"]:
            if action["Name"] == action_name:
                return index, int(action.get("RunOrder", 1))
    return None


def _first_deploy(stage: Mapping[str, Any]) -> int | None:
    orders = [
        int(a.get("RunOrder", 1))
        for a in stage["Actions"]
        if a["ActionTypeId"]["Provider"] == "CloudFormation"
    ]
    return min(orders) if orders else None


def _manual_approval(stage: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for action in stage["Actions"]:
        type_id = action["ActionTypeId"]
        if action["Name"] == name and (type_id.get("Category"), type_id["Provider"]) == (
            "Approval",
            "Manual",
        ):
            return dict(action)
    return None


def _approval_before_deploy(stages: Sequence[Mapping[str, Any]], index: int, name: str) -> str:
    """Where the approval of the environment whose stage is at ``index`` is, or why it is not
    good enough: "" when it is in the stage just before (holding no deploy) or in the stage
    itself before its first deploy."""
    action = f"Approve-{name}"
    stage = stages[index]
    own = _manual_approval(stage, action)
    if own is not None:
        deploy = _first_deploy(stage)
        if deploy is not None and int(own.get("RunOrder", 1)) >= deploy:
            return f"{action} does not run before its first deploy"
        return ""
    before = stages[index - 1] if index > 0 else None
    if before is not None and _manual_approval(before, action) is not None:
        if _first_deploy(before) is not None:
            return f"the stage of {action} deploys something itself"
        return ""
    return f"no manual approval {action} just before its stage"


def check_approvals(
    stages: Sequence[Mapping[str, Any]], environments: Sequence[EnvironmentConfig], floor: Floor
) -> Iterator[Violation]:
    positions = {stage["Name"]: index for index, stage in enumerate(stages)}
    for environment in environments:
        name = environment.name
        if not (environment.approval_required or name in floor.always_approved):
            continue
        why = (
            "the organisation always approves it"
            if name in floor.always_approved
            else "approval_required is true"
        )
        if name not in positions:
            yield Violation("approval", f"{name}: no stage of that name ({why})")
            continue
        problem = _approval_before_deploy(stages, positions[name], name)
        if problem:
            yield Violation("approval", f"{name}: {problem} ({why})")
            continue
        approval = _position(stages, f"Approve-{name}")
        report = _position(stages, f"ChangeReport-{name}")
        if report is None or approval is None or report >= approval:
            yield Violation(
                "approval", f"{name}: no change report ChangeReport-{name} before its approval"
            )


def check_scan_gate(
    template: Template, stages: Sequence[Mapping[str, Any]], first: str
) -> Iterator[Violation]:
    positions = {stage["Name"]: index for index, stage in enumerate(stages)}
    gates = [
        index
        for index, stage in enumerate(stages)
        for action in stage["Actions"]
        if action["ActionTypeId"]["Provider"] == "CodeBuild"
        and re.search(r"make (publish-images|scan-gate)\b", _project_buildspec(template, action))
    ]
    if not gates:
        yield Violation("scan-gate", "no action runs the image scan gate (make publish-images)")
    elif first in positions and min(gates) >= positions[first]:
        yield Violation(
            "scan-gate",
            f"the image scan gate runs in stage {stages[min(gates)]['Name']}, not before {first}",
        )


def check_bake_floor(
    template: Template,
    stages: Sequence[Mapping[str, Any]],
    environments: Sequence[EnvironmentConfig],
    floor: Floor,
) -> Iterator[Violation]:
    for environment in environments:
        minimum = floor.bake_floor_minutes.get(environment.name, 0)
        verify = [
            action
            for stage in stages
            if stage["Name"] == environment.name
            for action in stage["Actions"]
            if action["Name"] == f"Verify-{environment.name}"
        ]
        if not verify:
            yield Violation(
                "bake-floor", f"{environment.name}: no Verify-{environment.name} action"
            )
            continue
        baked = _variables(template, verify[0]).get("BAKE_MINUTES")
        # Exactly the command: `make verify BAKE_MINUTES=0` would override the environment.
        if "make verify" not in _commands(template, verify[0]):
            yield Violation(
                "bake-floor", f"{environment.name}: Verify-{environment.name} runs no bake"
            )
        elif baked is None or not baked.isdigit() or int(baked) < minimum:
            yield Violation(
                "bake-floor",
                f"{environment.name}: bakes {baked or 'no'} minutes, the floor is {minimum}",
            )


_PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


def _flatten(value: Any) -> str:
    """A role ARN as text: Fn::Join and Fn::Sub resolved where their parts are literal or the
    partition; anything else stays visibly unresolved (``${...}`` or JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_flatten(part) for part in parts)
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: _PSEUDO.get(m[1], m[0]), value["Fn::Sub"])
    if isinstance(value, dict) and value.get("Ref") in _PSEUDO:
        return _PSEUDO[value["Ref"]]
    return json.dumps(value)


def _statements(logical_id: str, resource: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every policy statement of an IAM::Policy, IAM::ManagedPolicy or a role's inline policy."""
    properties = resource.get("Properties", {})
    documents = []
    if resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
        documents.append(properties.get("PolicyDocument", {}))
    elif resource["Type"] == "AWS::IAM::Role":
        documents += [policy.get("PolicyDocument", {}) for policy in properties.get("Policies", [])]
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            yield logical_id, statement


def _allows_assume(statement: Mapping[str, Any]) -> bool:
    actions = statement.get("Action", [])
    actions = actions if isinstance(actions, list) else [actions]
    return statement.get("Effect") == "Allow" and any(
        fnmatch.fnmatchcase("sts:assumerole", str(action).lower()) for action in actions
    )


def _checks_role(arn: str, checks_roles: Mapping[str, str]) -> bool:
    """Whether ``arn`` is the checks role of the environment whose account it names."""
    match = re.fullmatch(r"arn:[^:]+:iam::(\d{12}):role/(.+)", arn)
    return match is not None and checks_roles.get(match[1]) == match[2]


def check_step_roles(
    template: Template,
    environment_accounts: set[str],
    checks_roles: Mapping[str, str] | None = None,
) -> Iterator[Violation]:
    """``checks_roles``: {account: the name of its environment's checks role}."""
    allowed = checks_roles or {}
    for logical_id, resource in sorted(template.get("Resources", {}).items()):
        for where, statement in _statements(logical_id, resource):
            if not _allows_assume(statement):
                continue
            targets = statement.get("Resource", [])
            for target in targets if isinstance(targets, list) else [targets]:
                arn = _flatten(target)
                account = arn.split(":")[4] if arn.count(":") >= 5 else ""
                if arn == "*" or "*" in account:
                    yield Violation("step-roles", f"{where} may assume any role ({arn})")
                elif "${" in account:
                    yield Violation(
                        "step-roles", f"{where} may assume a role in an unresolved account ({arn})"
                    )
                elif (
                    account in environment_accounts
                    and not _BOOTSTRAP_ROLE.match(arn)
                    and not _checks_role(arn, allowed)
                ):
                    yield Violation(
                        "step-roles",
                        f"{where} may assume {arn} in an environment account: only the CDK "
                        "bootstrap roles and the checks role may be",
                    )


_POOL_ARN = re.compile(r"arn:[^:]+:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+")


def _role_named(resource: Mapping[str, Any], role_name: str) -> bool | None:
    """Whether an IAM role resource is named ``role_name``; None when its name cannot be read
    offline (a reference: it could be that role)."""
    if resource.get("Type") != "AWS::IAM::Role":
        return False
    name = resource.get("Properties", {}).get("RoleName")
    if name is None:
        return False  # CloudFormation names it: never the checks role's literal name
    flat = _flatten(name)
    return None if "${" in flat or flat.startswith(("{", "[")) else flat == role_name


def check_checks_role_powers(
    environment: str,
    templates: Mapping[str, Template],
    role_name: str,
    *,
    pipeline_account: str,
) -> Iterator[Violation]:
    """The checks role a pipeline step may assume exists once, only the pipeline account may
    assume it, and it may do CHECKS_ROLE_ACTIONS on a user pool and nothing more. Fails closed:
    anything the gate cannot read offline is a violation."""
    found, unreadable = [], []
    for stack, template in sorted(templates.items()):
        for logical_id, resource in sorted(template.get("Resources", {}).items()):
            named = _role_named(resource, role_name)
            if named:
                found.append((stack, logical_id, template.get("Resources", {})))
            elif named is None:
                unreadable.append(f"{stack}/{logical_id}")
    for role in unreadable:
        yield Violation(
            "step-roles", f"{environment}: {role} is named by a reference: it could be {role_name}"
        )
    if len(found) != 1:
        yield Violation(
            "step-roles",
            f"{environment}: a pipeline step may assume {role_name}, which must be one role of "
            f"the environment's templates; {len(found)} are",
        )
        return
    stack, logical_id, resources = found[0]
    where = f"{environment}: {stack}/{logical_id} ({role_name})"
    properties = resources[logical_id].get("Properties", {})
    if properties.get("ManagedPolicyArns"):
        yield Violation("step-roles", f"{where} has managed policies")
    yield from _checks_role_trust(where, properties, pipeline_account)
    yield from _checks_role_statements(where, logical_id, role_name, resources)


def _checks_role_trust(
    where: str, properties: Mapping[str, Any], pipeline_account: str
) -> Iterator[Violation]:
    trust = properties.get("AssumeRolePolicyDocument", {}).get("Statement", [])
    for statement in trust if isinstance(trust, list) else [trust]:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        trusted = principal.get("AWS", []) if isinstance(principal, Mapping) else principal
        names = [_flatten(value) for value in (trusted if isinstance(trusted, list) else [trusted])]
        others = [
            name
            for name in names
            if name != pipeline_account
            and not re.fullmatch(rf"arn:[^:]+:iam::{pipeline_account}:\S+", name)
        ]
        if set(principal) - {"AWS"} or others or not names:
            yield Violation(
                "step-roles",
                f"{where} trusts more than the pipeline account: {json.dumps(principal)}",
            )


def _attached(role: str, role_name: str, resources: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The role itself and every policy resource attached to it, by reference or by name."""
    names = ({"Ref": role}, role_name)
    attached = []
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        policy = resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
        if logical_id == role or (
            policy and any(name in properties.get("Roles", []) for name in names)
        ):
            attached.append((logical_id, resource))
        elif resource["Type"] == "AWS::IAM::RolePolicy" and properties.get("RoleName") in names:
            document = {"PolicyDocument": properties.get("PolicyDocument", {})}
            attached.append((logical_id, {"Type": "AWS::IAM::Policy", "Properties": document}))
    return attached


def _checks_role_statements(
    where: str, role: str, role_name: str, resources: Mapping[str, Any]
) -> Iterator[Violation]:
    for logical_id, resource in _attached(role, role_name, resources):
        for _where, statement in _statements(logical_id, resource):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                yield Violation("step-roles", f"{where} has a NotAction or NotResource grant")
            actions = statement.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            extra = sorted(set(map(str, actions)) - set(CHECKS_ROLE_ACTIONS))
            if extra:
                yield Violation("step-roles", f"{where} may also {', '.join(extra)}")
            targets = statement.get("Resource", [])
            for target in targets if isinstance(targets, list) else [targets]:
                flat = _flatten(target)
                if "*" in flat or (isinstance(target, str) and not _POOL_ARN.fullmatch(target)):
                    yield Violation("step-roles", f"{where} acts on {flat}, not one user pool")


def check_rollback(
    stages: Sequence[Mapping[str, Any]], environments: Sequence[EnvironmentConfig]
) -> Iterator[Violation]:
    by_name = {stage["Name"]: stage for stage in stages}
    for environment in environments:
        stage = by_name.get(environment.name, {})
        # Bare: conditions on OnFailure would make the rollback engage only when they fail.
        if stage.get("OnFailure") != {"Result": "ROLLBACK"}:
            yield Violation(
                "rollback", f"{environment.name}: the stage does not roll back on failure"
            )


def judge(
    template: Template,
    environments: Sequence[EnvironmentConfig],
    floor: Floor,
    *,
    pipeline_account: str,
    project: str | None = None,
) -> list[Violation]:
    """Every violation of every invariant by the pipeline stack ``template``. With ``project``,
    its environments' checks roles may be assumed (judge_assembly judges their powers)."""
    checks_roles = checks_roles_of(project, environments) if project else {}
    stages = _pipeline(template)["Stages"]
    accounts = {e.account for e in environments} - {pipeline_account}
    return [
        *check_approvals(stages, environments, floor),
        *check_scan_gate(template, stages, environments[0].name),
        *check_bake_floor(template, stages, environments, floor),
        *check_step_roles(template, accounts or {e.account for e in environments}, checks_roles),
        *check_rollback(stages, environments),
    ]


def checks_roles_of(project: str, environments: Sequence[EnvironmentConfig]) -> dict[str, str]:
    """{account: the name of its environment's post-deploy checks role}, for the environments
    whose checks sign in (no other has, or may assume, such a role)."""
    return {e.account: checks_role_name(project, e.name) for e in environments if checks_sign_in(e)}


def judge_assembly(
    assembly: Path,
    environments: Sequence[EnvironmentConfig],
    *,
    pipeline_account: str,
    project: str,
    floor: Floor | None = None,
) -> list[Violation]:
    """The pipeline stack's invariants, and the powers of each checks role it may assume."""
    cloud = read_cloud_assembly(assembly)
    try:
        stack = cloud.pipeline_stack()
    except KeyError:
        raise ValueError(f"{assembly}: no stack defines an {PIPELINE_TYPE}") from None
    checks_roles = checks_roles_of(project, environments)
    powers = [
        violation
        for e in environments
        if e.account in checks_roles and checks_sign_in(e)
        for violation in check_checks_role_powers(
            e.name,
            cloud.templates(e.name),
            checks_roles[e.account],
            pipeline_account=pipeline_account,
        )
    ]
    return powers + judge(
        stack.template,
        environments,
        floor or load_floor(),
        pipeline_account=pipeline_account,
        project=project,
    )


def render_markdown(violations: Sequence[Violation]) -> str:
    """The section the pull request's diff comment carries."""
    lines = ["## Pipeline integrity", ""]
    if not violations:
        lines.append(f"All {len(INVARIANTS)} invariants hold ({', '.join(INVARIANTS)}).")
    else:
        lines.append(
            "**This change weakens the pipeline: the policy gate fails it "
            f"({len(violations)} violation{'s' if len(violations) > 1 else ''}).**"
        )
        lines += [f"- `{v.invariant}`: {v.message}" for v in violations]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m policies.pipeline_integrity ASSEMBLY [--append REPORT]``: the invariants of
    one synthesized pipeline, printed (or appended to a Markdown report, as `make diff` does for
    the pull request's comment); exit 1 on a violation unless --report-only."""
    parser = argparse.ArgumentParser(description="Judge the synthesized pipeline's integrity")
    parser.add_argument("assembly", type=Path)
    parser.add_argument("--append", type=Path, help="append the Markdown section to this file")
    parser.add_argument("--report-only", action="store_true", help="exit 0 on violations")
    args = parser.parse_args(argv)
    try:
        config = load_config(config_file())
        violations = judge_assembly(
            args.assembly,
            list(config.environments),
            pipeline_account=config.pipeline.account,
            project=config.project.name,
        )
    except (FileNotFoundError, ValueError, ConfigError) as error:
        print(f"pipeline integrity: {error}", file=sys.stderr)
        return BAD_INPUT
    text = render_markdown(violations)
    if args.append:
        with args.append.open("a", encoding="utf-8") as report:
            report.write("\n" + text)
    else:
        print(text, end="")
    return SUCCESS if args.report_only or not violations else FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
