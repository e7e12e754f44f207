"""The first deployment, as commands: bootstrap every account and region a stack lives in, check
the GitHub connection, deploy the pipeline stack once, clean up after a failed first create.

Read from the synthesized assembly (`make synth` first), so the accounts and regions are the
ones the stacks really target, us-east-1 included. Every subcommand prints the exact commands;
with --run (`RUN=1`) it runs them, once the credentials prove to be the named account's.

The CloudFormation execution role that `cdk bootstrap` creates gets least-privilege managed
policies generated here: every action the CloudFormation resource schemas list for creating,
reading, updating, deleting and listing each resource type the account's templates use, plus
cloudformation:DescribeStacks on the stacks that Fn::GetStackOutput reads, lambda:InvokeFunction
for custom resources and ssm:GetParameters on the bootstrap version. `POLICY=admin` uses
AdministratorAccess instead (what the CDK guide shows), for an account where that is accepted.

    python -m ops.first_deploy [--assembly cdk.out] [--run] execution-policies
    python -m ops.first_deploy bootstrap (--pipeline | --environment NAME)
    python -m ops.first_deploy connection | deploy-pipeline | release
    python -m ops.first_deploy delete-failed-stack --stack NAME
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from config.cloud_assembly import (
    PIPELINE,
    AssemblyNotFoundError,
    SynthesizedStack,
    read_cloud_assembly,
)
from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.names import pipeline_name
from config.paths import ASSEMBLY_DIR, ROOT
from ops.common import CommandError, checked_config, write_atomically

POLICY_DIR = ROOT / "build" / "bootstrap"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
# IAM quotas: characters of a managed policy (whitespace not counted), policies per role.
POLICY_CHARACTERS = 6144
POLICIES_PER_ROLE = 10
HANDLERS = ("create", "read", "update", "delete", "list")
# Resource types whose registry schema lists no handler permissions: the calls CloudFormation
# makes for them (https://docs.aws.amazon.com/service-authorization/latest/reference/).
LEGACY_PERMISSIONS = {
    "AWS::CodeBuild::Project": (
        "codebuild:BatchGetProjects",
        "codebuild:CreateProject",
        "codebuild:DeleteProject",
        "codebuild:UpdateProject",
        "iam:PassRole",
    ),
}
# A stack whose first create failed stays in one of these; only deleting it allows a retry.
FAILED_CREATE = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED"})

Command = list[str]


class FirstDeployError(CommandError):
    """A problem with the input, phrased for the person running make."""

    exit_code = BAD_INPUT


def read_stacks(assembly: Path) -> list[SynthesizedStack]:
    """Every stack of the assembly: the pipeline's (and its support stacks), and each stage's."""
    try:
        return list(read_cloud_assembly(assembly).stacks)
    except AssemblyNotFoundError as error:
        raise FirstDeployError(str(error)) from None


@cache
def _schema_permissions(region: str, resource_type: str) -> tuple[str, ...] | None:
    """The actions CloudFormation's schema of the type lists for its handlers, if it has any."""
    schemas = resources.files("cfnlint.data.schemas")
    index = json.loads(schemas.joinpath(f"providers/{region}.json").read_text("utf-8"))
    digest = index.get(resource_type)
    if digest is None:
        return None
    schema = json.loads(schemas.joinpath(f"resources/{digest}.json").read_text("utf-8"))
    handlers = schema.get("handlers") or {}
    actions = {a for name in HANDLERS for a in handlers.get(name, {}).get("permissions", [])}
    return tuple(sorted(actions)) or None


def _walk(value: Any) -> Iterator[Any]:
    yield value
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    )
    for child in children:
        yield from _walk(child)


def _is_custom(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == (
        "AWS::CloudFormation::CustomResource"
    )


def _stack_needs(stack: SynthesizedStack) -> tuple[set[str], dict[str, set[str]]]:
    """Actions on any resource, and actions scoped to resources, one stack's create needs."""
    anywhere: set[str] = set()
    scoped: dict[str, set[str]] = {}
    for logical_id, resource in stack.template.get("Resources", {}).items():
        kind = resource["Type"]
        if _is_custom(kind):
            function = f"arn:aws:lambda:{stack.region}:{stack.account}:function:*"
            scoped.setdefault("lambda:InvokeFunction", set()).add(function)
            continue
        actions = _schema_permissions(stack.region, kind) or LEGACY_PERMISSIONS.get(kind)
        if not actions:
            raise FirstDeployError(
                f"{stack.name}: {logical_id} is a {kind}, whose CloudFormation schema lists no "
                "permissions: add them to LEGACY_PERMISSIONS in ops/first_deploy.py"
            )
        anywhere.update(actions)
    for node in _walk(stack.template):
        if isinstance(node, dict) and isinstance(node.get("Fn::GetStackOutput"), dict):
            reference = node["Fn::GetStackOutput"]
            region = reference.get("Region", stack.region)
            arn = (
                f"arn:aws:cloudformation:{region}:{stack.account}:stack/{reference['StackName']}/*"
            )
            scoped.setdefault("cloudformation:DescribeStacks", set()).add(arn)
    for parameter in stack.template.get("Parameters", {}).values():
        if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
            name = parameter["Default"]
            arn = f"arn:aws:ssm:{stack.region}:{stack.account}:parameter{name}"
            scoped.setdefault("ssm:GetParameters", set()).add(arn)
    return anywhere, scoped


def execution_policies(stacks: Iterable[SynthesizedStack]) -> list[dict[str, Any]]:
    """Policy documents, each within IAM's size limit, granting what the stacks' creates need."""
    anywhere: set[str] = set()
    scoped: dict[str, set[str]] = {}
    for stack in stacks:
        stack_anywhere, stack_scoped = _stack_needs(stack)
        anywhere |= stack_anywhere
        for action, arns in stack_scoped.items():
            scoped.setdefault(action, set()).update(arns)
    statements = [
        {"Effect": "Allow", "Action": action, "Resource": sorted(arns)}
        for action, arns in sorted(scoped.items())
    ]
    documents: list[dict[str, Any]] = []
    actions: list[str] = []
    for action in sorted(anywhere):
        candidate = _document(statements if not documents else [], [*actions, action])
        if len(json.dumps(candidate, separators=(",", ":"))) > POLICY_CHARACTERS and actions:
            documents.append(_document(statements if not documents else [], actions))
            actions = []
        actions.append(action)
    documents.append(_document(statements if not documents else [], actions))
    if len(documents) >= POLICIES_PER_ROLE:
        raise FirstDeployError(f"{len(documents)} execution policies exceed IAM's quota per role")
    return documents


def _document(statements: list[dict[str, Any]], actions: list[str]) -> dict[str, Any]:
    everything = {"Effect": "Allow", "Action": actions, "Resource": "*"} if actions else None
    return {"Version": "2012-10-17", "Statement": [*statements, *filter(None, [everything])]}


def policy_name(project: str, index: int) -> str:
    return f"{project}-cdk-execution-{index}"


def policies_template(project: str, documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The account's execution policies as a stack: `aws cloudformation deploy` keeps them."""
    return {
        "Description": f"{project}: the CloudFormation execution policies cdk bootstrap attaches",
        "Resources": {
            f"ExecutionPolicy{index}": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "ManagedPolicyName": policy_name(project, index),
                    "PolicyDocument": document,
                },
            }
            for index, document in enumerate(documents, start=1)
        },
    }


@dataclass(frozen=True, kw_only=True)
class Context:
    assembly: Path
    cdk: str
    project: str
    pipeline_account: str
    pipeline_region: str
    pipeline_name: str
    connection_arn: str
    stacks: list[SynthesizedStack]
    administrator_access: bool = False
    policy_dir: Path = POLICY_DIR

    def account_stacks(self, account: str) -> list[SynthesizedStack]:
        return [stack for stack in self.stacks if stack.account == account]

    def group_stacks(self, group: str) -> list[SynthesizedStack]:
        found = [stack for stack in self.stacks if stack.environment == group]
        if not found:
            raise FirstDeployError(f"no stacks of {group!r} in {self.assembly}")
        return found


def write_policies(context: Context, account: str) -> Path:
    """build/bootstrap/<account>/execution-policies.template.json, written whole or not at all."""
    documents = execution_policies(context.account_stacks(account))
    target = context.policy_dir / account / "execution-policies.template.json"
    text = json.dumps(policies_template(context.project, documents), indent=1, sort_keys=True)
    write_atomically(target, text + "\n")
    return target


def bootstrap_commands(context: Context, group: str) -> list[Command]:
    stacks = context.group_stacks(group)
    (account,) = {stack.account for stack in stacks}
    targets = sorted({f"aws://{account}/{stack.region}" for stack in stacks})
    policies = [ADMINISTRATOR_ACCESS]
    commands = []
    if not context.administrator_access:
        template = write_policies(context, account)
        count = len(json.loads(template.read_text(encoding="utf-8"))["Resources"])
        policies = [
            f"arn:aws:iam::{account}:policy/{policy_name(context.project, index)}"
            for index in range(1, count + 1)
        ]
        commands.append(
            [
                # IAM is global: one stack per account (in the pipeline's region), whichever
                # of the account's groups is bootstrapped first, or the names would collide.
                *("aws", "cloudformation", "deploy", "--region", context.pipeline_region),
                *("--stack-name", f"{context.project}-cdk-execution-policies"),
                *("--template-file", str(template), "--capabilities", "CAPABILITY_NAMED_IAM"),
                "--no-fail-on-empty-changeset",
            ]
        )
    trust = context.pipeline_account
    trust_flags = [] if account == trust else ["--trust", trust, "--trust-for-lookup", trust]
    commands.append(
        [
            *(context.cdk, "bootstrap", *targets, *trust_flags),
            *("--cloudformation-execution-policies", ",".join(policies)),
            *("--app", str(context.assembly), "--no-notices"),
        ]
    )
    return commands


def deploy_pipeline_commands(context: Context) -> list[Command]:
    """`cdk deploy` of the pipeline stack; its cross-region support stacks come as dependencies."""
    (pipeline,) = [
        stack
        for stack in context.group_stacks(PIPELINE)
        if any(
            resource["Type"] == "AWS::CodePipeline::Pipeline"
            for resource in stack.template.get("Resources", {}).values()
        )
    ]
    return [
        [
            context.cdk,
            "deploy",
            "--app",
            str(context.assembly),
            "--no-notices",
            pipeline.display_name,
        ]
    ]


def _connection_command(context: Context) -> Command:
    service, region = context.connection_arn.split(":")[2:4]
    return [
        *("aws", service, "get-connection", "--connection-arn", context.connection_arn),
        *("--region", region, "--query", "Connection.ConnectionStatus", "--output", "text"),
    ]


def _stack_named(context: Context, name: str) -> SynthesizedStack:
    for stack in context.stacks:
        if stack.name == name:
            return stack
    known = ", ".join(sorted(stack.name for stack in context.stacks))
    raise FirstDeployError(f"no stack named {name!r} in {context.assembly} (stacks: {known})")


def _status_command(stack: SynthesizedStack) -> Command:
    return [
        *("aws", "cloudformation", "describe-stacks", "--stack-name", stack.name),
        *("--region", stack.region, "--query", "Stacks[0].StackStatus", "--output", "text"),
    ]


# Deletion protection on a stack's own resources stops CloudFormation from deleting them: the
# rollback of a failed create ends in ROLLBACK_FAILED, and delete-stack fails the same way. The
# protection is lifted, resource by resource, before the stack is deleted.
UNPROTECT: dict[str, Callable[[str, str], Command]] = {
    "AWS::RDS::DBCluster": lambda physical_id, region: [
        *("aws", "rds", "modify-db-cluster", "--db-cluster-identifier", physical_id),
        *("--no-deletion-protection", "--apply-immediately", "--region", region),
    ],
    "AWS::ElasticLoadBalancingV2::LoadBalancer": lambda arn, region: [
        *("aws", "elbv2", "modify-load-balancer-attributes", "--load-balancer-arn", arn),
        *("--attributes", "Key=deletion_protection.enabled,Value=false", "--region", region),
    ],
    # UpdateUserPool resets every setting it is not given to Cognito's default: harmless here,
    # where the pool of a failed first create is about to be deleted with its stack.
    "AWS::Cognito::UserPool": lambda pool_id, region: [
        *("aws", "cognito-idp", "update-user-pool", "--user-pool-id", pool_id),
        *("--deletion-protection", "INACTIVE", "--region", region),
    ],
}


def _protection_on(resource: dict[str, Any]) -> bool:
    properties = resource.get("Properties", {})
    flags = [value for key, value in properties.items() if key.startswith("DeletionProtection")]
    flags += [
        attribute.get("Value")
        for attribute in properties.get("LoadBalancerAttributes", [])
        if attribute.get("Key") == "deletion_protection.enabled"
    ]
    return any(flag in (True, "true", "ACTIVE") for flag in flags)


def protected_resources(stack: SynthesizedStack) -> dict[str, str]:
    """Logical id -> type of every resource of the stack created with deletion protection on."""
    return {
        logical_id: resource["Type"]
        for logical_id, resource in sorted(stack.template.get("Resources", {}).items())
        if _protection_on(resource)
    }


def _remaining_resources_command(stack: SynthesizedStack) -> Command:
    """The resources a failed create left behind (a rollback marks the others deleted)."""
    return [
        *("aws", "cloudformation", "describe-stack-resources", "--stack-name", stack.name),
        *("--region", stack.region, "--output", "text", "--query"),
        "StackResources[?ResourceStatus!='DELETE_COMPLETE'].[LogicalResourceId,PhysicalResourceId]",
    ]


def delete_failed_stack_commands(
    stack: SynthesizedStack, remaining: Mapping[str, str] | None = None
) -> list[Command]:
    """Lift the stack's own protections, then delete it. ``remaining``: logical -> physical id
    of what the failed create left (None when only printing: every protected resource is named
    by a placeholder)."""
    where = ["--stack-name", stack.name, "--region", stack.region]
    commands = []
    if stack.termination_protection:
        commands.append(
            [
                "aws",
                "cloudformation",
                "update-termination-protection",
                "--no-enable-termination-protection",
                *where,
            ]
        )
    for logical_id, resource_type in protected_resources(stack).items():
        if remaining is None:
            commands.append(
                UNPROTECT[resource_type](f"<physical id of {logical_id}>", stack.region)
            )
        elif logical_id in remaining:
            commands.append(UNPROTECT[resource_type](remaining[logical_id], stack.region))
    return [
        *commands,
        ["aws", "cloudformation", "delete-stack", *where],
        ["aws", "cloudformation", "wait", "stack-delete-complete", *where],
    ]


def release_commands(context: Context) -> list[Command]:
    return [
        [
            *("aws", "codepipeline", "start-pipeline-execution", "--name", context.pipeline_name),
            *("--region", context.pipeline_region),
        ]
    ]


Runner = Callable[[Command], str]


def run_command(command: Command) -> str:
    """Run one command, its output shown and returned; a failure ends the run."""
    print(f"+ {shlex.join(command)}", flush=True)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    sys.stdout.write(completed.stdout)
    sys.stderr.write(completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"{command[0]} {command[1]} failed with exit {completed.returncode}")
    return completed.stdout.strip()


def _in_account(account: str, runner: Runner) -> None:
    caller = runner(["aws", "sts", "get-caller-identity", "--query", "Account", "--output", "text"])
    if caller != account:
        raise FirstDeployError(f"these credentials are account {caller}'s; this needs {account}'s")


def _execution_policies(
    _args: argparse.Namespace, context: Context, _runner: Runner | None
) -> list[Command]:
    for account in sorted({stack.account for stack in context.stacks}):
        print(f"wrote {write_policies(context, account)}")
    return []


def _bootstrap(args: argparse.Namespace, context: Context, runner: Runner | None) -> list[Command]:
    group = PIPELINE if args.pipeline else args.environment
    if runner:
        _in_account(context.group_stacks(group)[0].account, runner)
    return bootstrap_commands(context, group)


def _connection(
    _args: argparse.Namespace, context: Context, runner: Runner | None
) -> list[Command]:
    if not runner:
        return [_connection_command(context)]
    status = runner(_connection_command(context))
    if status != "AVAILABLE":
        raise RuntimeError(
            f"the connection is {status}: in the console (Developer Tools > Settings > "
            "Connections) choose it, then Update pending connection, and install the app"
        )
    return []


def _delete_failed_stack(
    args: argparse.Namespace, context: Context, runner: Runner | None
) -> list[Command]:
    stack = _stack_named(context, args.stack)
    if not runner:
        return [
            _status_command(stack),
            _remaining_resources_command(stack),
            *delete_failed_stack_commands(stack),
        ]
    _in_account(stack.account, runner)
    status = runner(_status_command(stack))
    if status not in FAILED_CREATE:
        raise FirstDeployError(
            f"{stack.name} is {status}, not a failed first create: not deleting it"
        )
    listed = runner(_remaining_resources_command(stack))
    remaining = dict(line.split("\t", 1) for line in listed.splitlines() if "\t" in line)
    return delete_failed_stack_commands(stack, remaining)


def _in_pipeline_account(
    commands: Callable[[Context], list[Command]],
) -> Callable[[argparse.Namespace, Context, Runner | None], list[Command]]:
    def plan(_args: argparse.Namespace, context: Context, runner: Runner | None) -> list[Command]:
        if runner:
            _in_account(context.pipeline_account, runner)
        return commands(context)

    return plan


# Per subcommand: the commands it stands for; given a runner, it first runs the checks that
# must pass (the account of the credentials, the state of what it would change).
PLANS = {
    "execution-policies": _execution_policies,
    "bootstrap": _bootstrap,
    "connection": _connection,
    "delete-failed-stack": _delete_failed_stack,
    "deploy-pipeline": _in_pipeline_account(deploy_pipeline_commands),
    "release": _in_pipeline_account(release_commands),
}


def _context(args: argparse.Namespace) -> Context:
    named = args.environment if args.command == "bootstrap" else None
    config = checked_config(environment=named or None)
    return Context(
        assembly=args.assembly,
        cdk=args.cdk,
        project=config.project.name,
        pipeline_account=config.pipeline.account,
        pipeline_region=config.pipeline.region,
        pipeline_name=pipeline_name(config.project.name),
        connection_arn=config.pipeline.source.connection_arn,
        stacks=read_stacks(args.assembly),
        administrator_access=args.administrator_access,
        policy_dir=args.out,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="The first deployment's commands")
    parser.add_argument("--assembly", type=Path, default=ASSEMBLY_DIR)
    parser.add_argument(
        "--out", type=Path, default=POLICY_DIR, help="where the execution policies are written"
    )
    parser.add_argument(
        "--cdk", default=str(ROOT / "node_modules" / ".bin" / "cdk"), help="the pinned CDK CLI"
    )
    parser.add_argument("--run", action="store_true", help="run the commands, not only print")
    parser.add_argument("--administrator-access", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("execution-policies")
    bootstrap = commands.add_parser("bootstrap")
    which = bootstrap.add_mutually_exclusive_group(required=True)
    which.add_argument("--pipeline", action="store_true")
    which.add_argument("--environment")
    commands.add_parser("connection")
    commands.add_parser("deploy-pipeline")
    commands.add_parser("release")
    delete = commands.add_parser("delete-failed-stack")
    delete.add_argument("--stack", required=True)
    return parser


def main(argv: Sequence[str] | None = None, runner: Runner = run_command) -> int:
    args = _parser().parse_args(argv)
    try:
        context = _context(args)
        commands = PLANS[args.command](args, context, runner if args.run else None)
        for command in commands:
            if args.run:
                runner(command)
            else:
                print(shlex.join(command))
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILURE
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
