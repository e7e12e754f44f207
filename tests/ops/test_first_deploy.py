"""docs/first-deploy.md and the make targets it follows: what they would run in AWS, offline.

The doc's every command is a make target that exists; the bootstrap lines cover every account
and region a synthesized stack targets; the generated execution policies allow what every
template's create needs (read independently from the CloudFormation schemas) within IAM's
limits; `cdk deploy` selects exactly the pipeline's stacks (the real CLI, offline); and RUN=1
runs exactly the printed commands, only with credentials of the named account.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from fnmatch import fnmatchcase
from importlib import resources as package_resources
from pathlib import Path
from typing import Any

import pytest

from config.cloud_assembly import PIPELINE
from config.model import DeliveryConfig
from config.paths import ROOT
from ops.first_deploy import (
    POLICY_CHARACTERS,
    UNPROTECT,
    main,
    protected_resources,
    read_stacks,
)
from policies.workflows import make_invocation_problems, make_targets
from tests.support.assembly import Assembly

DOC = ROOT / "docs" / "first-deploy.md"
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _doc_commands() -> list[str]:
    blocks = _FENCE.findall(DOC.read_text(encoding="utf-8"))
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_every_command_of_the_doc_is_a_make_target_that_exists() -> None:
    commands = _doc_commands()
    assert commands
    assert make_invocation_problems("\n".join(commands), make_targets()) == []


def test_the_doc_bootstraps_the_pipeline_and_every_environment_then_deploys_once(
    config: DeliveryConfig,
) -> None:
    run = {tuple(shlex.split(command)) for command in _doc_commands() if "RUN=1" in command}
    expected = {
        ("make", "bootstrap-pipeline", "RUN=1"),
        ("make", "connection-status", "RUN=1"),
        ("make", "deploy-pipeline", "RUN=1"),
        *(("make", "bootstrap", f"ENV={env.name}", "RUN=1") for env in config.environments),
    }
    assert expected <= run


def test_the_docs_index_and_the_readme_link_it() -> None:
    for index in (ROOT / "README.md", ROOT / "docs" / "README.md"):
        links = re.findall(r"\]\(([^)#]+)\)", index.read_text(encoding="utf-8"))
        assert DOC in {(index.parent / link).resolve() for link in links}, index


def _printed(capsys: pytest.CaptureFixture[str], *argv: str) -> list[list[str]]:
    assert main(list(argv)) == 0
    return [shlex.split(line) for line in capsys.readouterr().out.splitlines()]


def _flag(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def _stack_environments(assembly: Assembly, *, nested: bool = True) -> dict[str, str]:
    """Stack name -> aws://account/region as the manifests write it (the root's, the stages')."""
    return {
        stack.name: stack.artifact["environment"]
        for stack in assembly.cloud.stacks
        if nested or stack.environment == PIPELINE
    }


def test_the_bootstrap_lines_cover_every_account_and_region_of_a_stack_once(
    assembly: Assembly,
    config: DeliveryConfig,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    out = tmp_path / "bootstrap"
    pipeline_account = config.pipeline.account
    groups = [["--pipeline"], *(["--environment", env.name] for env in config.environments)]
    bootstrapped: list[str] = []
    for group in groups:
        deploy, bootstrap = _printed(
            capsys, "--assembly", str(assembly.root), "--out", str(out), "bootstrap", *group
        )
        targets = [word for word in bootstrap if word.startswith("aws://")]
        bootstrapped += targets
        (account,) = {target.split("/")[2] for target in targets}
        if account == pipeline_account:
            assert "--trust" not in bootstrap
        else:
            trusted = (_flag(bootstrap, "--trust"), _flag(bootstrap, "--trust-for-lookup"))
            assert trusted == (pipeline_account, pipeline_account)
        template = json.loads(Path(_flag(deploy, "--template-file")).read_text())
        names = [r["Properties"]["ManagedPolicyName"] for r in template["Resources"].values()]
        assert _flag(bootstrap, "--cloudformation-execution-policies").split(",") == [
            f"arn:aws:iam::{account}:policy/{name}" for name in names
        ]
    assert sorted(bootstrapped) == sorted(set(_stack_environments(assembly).values()))


def _handler_actions(region: str, resource_type: str) -> set[str]:
    schemas = package_resources.files("cfnlint.data.schemas")
    index = json.loads(schemas.joinpath(f"providers/{region}.json").read_text("utf-8"))
    if resource_type not in index:
        return set()
    schema = json.loads(schemas.joinpath(f"resources/{index[resource_type]}.json").read_text())
    return {action for h in (schema.get("handlers") or {}).values() for action in h["permissions"]}


def _needs(stack: dict[str, Any], account: str, region: str) -> list[tuple[str, str]]:
    """(action, resource) pairs CloudFormation calls with the execution role for this stack."""
    needs = []
    for resource in stack.get("Resources", {}).values():
        kind = resource["Type"]
        if kind.startswith("Custom::"):
            function = f"arn:aws:lambda:{region}:{account}:function:provider"
            needs.append(("lambda:InvokeFunction", function))
        elif kind == "AWS::CodeBuild::Project":  # no handlers in its schema
            calls = ("CreateProject", "UpdateProject", "DeleteProject", "BatchGetProjects")
            needs += [(f"codebuild:{call}", "*") for call in calls]
        else:
            actions = _handler_actions(region, kind)
            assert actions, kind
            needs += [(action, "*") for action in actions]
    for reference in re.findall(r'"Fn::GetStackOutput":\s*(\{[^}]*\})', json.dumps(stack)):
        target = json.loads(reference)
        arn = f"arn:aws:cloudformation:{target.get('Region', region)}:{account}:stack/"
        needs.append(("cloudformation:DescribeStacks", f"{arn}{target['StackName']}/id"))
    for parameter in stack.get("Parameters", {}).values():
        if parameter["Type"].startswith("AWS::SSM::Parameter::Value"):
            arn = f"arn:aws:ssm:{region}:{account}:parameter{parameter['Default']}"
            needs.append(("ssm:GetParameters", arn))
    return needs


def _allows(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    for document in documents:
        for statement in document["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            if (
                statement["Effect"] == "Allow"
                and any(fnmatchcase(action.lower(), a.lower()) for a in actions)
                and any(fnmatchcase(resource, r) for r in resources)
            ):
                return True
    return False


def test_the_execution_policies_allow_what_every_template_needs_within_iams_limits(
    assembly: Assembly, tmp_path: Path
) -> None:
    out = tmp_path / "bootstrap"
    assert main(["--assembly", str(assembly.root), "--out", str(out), "execution-policies"]) == 0
    stacks = _stack_environments(assembly)
    missing, unused = [], []
    for account in sorted({environment.split("/")[2] for environment in stacks.values()}):
        template = json.loads((out / account / "execution-policies.template.json").read_text())
        documents = [r["Properties"]["PolicyDocument"] for r in template["Resources"].values()]
        assert len(documents) < 10, "IAM attaches at most 10 managed policies to a role"
        for document in documents:
            assert len(json.dumps(document, separators=(",", ":"))) <= POLICY_CHARACTERS
        needed: set[str] = set()
        for name, environment in stacks.items():
            _, region = environment.removeprefix("aws://").split("/")
            if environment.split("/")[2] != account:
                continue
            for action, resource in _needs(assembly.template(name), account, region):
                needed.add(action.lower())
                if not _allows(documents, action, resource):
                    missing.append(f"{account} {name}: {action} on {resource}")
        granted = {
            action.lower()
            for document in documents
            for statement in document["Statement"]
            for action in (
                [statement["Action"]]
                if isinstance(statement["Action"], str)
                else statement["Action"]
            )
        }
        unused += [f"{account}: {action}" for action in sorted(granted - needed)]
    assert missing == []
    assert unused == [], "least privilege: nothing no template needs"


def test_deploy_pipeline_selects_the_pipeline_stack_and_its_support_stacks_only(
    assembly: Assembly, capsys: pytest.CaptureFixture[str]
) -> None:
    ((cdk, command, *options, selector),) = _printed(
        capsys, "--assembly", str(assembly.root), "deploy-pipeline"
    )
    assert (cdk, command) == (str(ROOT / "node_modules" / ".bin" / "cdk"), "deploy")
    listed = subprocess.run(
        [str(ROOT / cdk), "ls", *options, selector],
        cwd=ROOT,
        env={
            **os.environ,
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        },
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    selected = re.findall(r"\((?P<name>[^)]+)\)$", listed, re.MULTILINE)
    # The root assembly holds the pipeline stack and its support stacks; the stages are nested.
    assert sorted(selected) == sorted(_stack_environments(assembly, nested=False))


@pytest.fixture
def fake_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`aws` and a CDK CLI that record their arguments and answer what the module asks."""
    log = tmp_path / "calls.jsonl"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = f"""#!{sys.executable}
import json, os, sys
with open({str(log)!r}, "a") as log:
    log.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
answers = {{"get-caller-identity": "FAKE_ACCOUNT", "describe-stacks": "FAKE_STACK_STATUS",
           "get-connection": "FAKE_CONNECTION", "describe-stack-resources": "FAKE_REMAINING"}}
for call, variable in answers.items():
    if call in sys.argv[1:3]:
        print(os.environ.get(variable, ""))
"""
    for name in ("aws", "cdk"):
        (bin_dir / name).write_text(script, encoding="utf-8")
        (bin_dir / name).chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    return log


def _calls(log: Path) -> list[list[str]]:
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [json.loads(line) for line in lines]


def test_run_runs_exactly_the_printed_commands_with_the_named_accounts_credentials(
    assembly: Assembly,
    fake_aws: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = ["--assembly", str(assembly.root), "--out", str(fake_aws.parent / "bootstrap")]
    options += ["--cdk", str(fake_aws.parent / "bin" / "cdk")]
    printed = _printed(capsys, *options, "bootstrap", "--environment", "staging")
    monkeypatch.setenv("FAKE_ACCOUNT", "333333333333")
    assert main([*options, "--run", "bootstrap", "--environment", "staging"]) == 0
    check, *ran = _calls(fake_aws)
    assert check[:3] == ["aws", "sts", "get-caller-identity"]
    assert ran == [[Path(command[0]).name, *command[1:]] for command in printed]


def test_run_refuses_credentials_of_another_account_before_running_anything(
    assembly: Assembly,
    fake_aws: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_ACCOUNT", "999999999999")
    assert main(["--assembly", str(assembly.root), "--run", "deploy-pipeline"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: these credentials are account 999999999999's; this needs 111111111111's"
    ]
    assert [call[1] for call in _calls(fake_aws)] == ["sts"]


@pytest.mark.parametrize(
    ("status", "deleted"),
    [("ROLLBACK_COMPLETE", True), ("CREATE_COMPLETE", False), ("UPDATE_ROLLBACK_COMPLETE", False)],
)
def test_only_a_failed_first_create_is_deleted(
    assembly: Assembly, fake_aws: Path, monkeypatch: pytest.MonkeyPatch, status: str, deleted: bool
) -> None:
    monkeypatch.setenv("FAKE_ACCOUNT", "222222222222")
    monkeypatch.setenv("FAKE_STACK_STATUS", status)
    argv = ["--run", "delete-failed-stack", "--stack", "todo-dev-stateful"]
    assert main(["--assembly", str(assembly.root), *argv]) == (0 if deleted else 2)
    calls = [call[1:3] for call in _calls(fake_aws)]
    assert calls[:2] == [["sts", "get-caller-identity"], ["cloudformation", "describe-stacks"]]
    assert (["cloudformation", "delete-stack"] in calls) is deleted


def test_every_deletion_protection_of_a_stack_can_be_lifted_for_a_retry(
    assembly: Assembly,
) -> None:
    """A failed first create of a protected stack cannot roll back (ROLLBACK_FAILED) nor be
    deleted until its protections are off: delete-failed-stack must know every kind."""
    protected = {
        (stack.environment, resource_type)
        for stack in read_stacks(assembly.root)
        for resource_type in protected_resources(stack).values()
    }
    # staging and prod (protect_data) keep their database and load balancer; dev does not.
    for environment in ("staging", "prod"):
        assert {
            (environment, "AWS::RDS::DBCluster"),
            (environment, "AWS::ElasticLoadBalancingV2::LoadBalancer"),
        } <= protected
    assert {group for group, _ in protected} == {"staging", "prod"}
    assert {resource_type for _, resource_type in protected} <= set(UNPROTECT)


def test_a_failed_prod_create_is_unprotected_then_deleted(
    assembly: Assembly, fake_aws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prod's stateful stack protects its cluster and its user pool: both are released, by
    their physical ids, before the stack is deleted."""
    (data,) = [stack for stack in read_stacks(assembly.root) if stack.name == "todo-prod-stateful"]
    protected = protected_resources(data)
    by_type = {resource_type: logical_id for logical_id, resource_type in protected.items()}
    assert set(by_type) == {"AWS::RDS::DBCluster", "AWS::Cognito::UserPool"}
    cluster, pool = by_type["AWS::RDS::DBCluster"], by_type["AWS::Cognito::UserPool"]
    monkeypatch.setenv("FAKE_ACCOUNT", "444444444444")
    monkeypatch.setenv("FAKE_STACK_STATUS", "ROLLBACK_FAILED")
    monkeypatch.setenv(
        "FAKE_REMAINING", f"{cluster}\ttodo-prod-cluster\n{pool}\teu-west-1_AbC\nOther\tleft"
    )
    argv = ["--run", "delete-failed-stack", "--stack", "todo-prod-stateful"]
    assert main(["--assembly", str(assembly.root), *argv]) == 0
    calls = [call[1:] for call in _calls(fake_aws)]
    ran = [call[:2] for call in calls]
    termination = ran.index(["cloudformation", "update-termination-protection"])
    deleted = ran.index(["cloudformation", "delete-stack"])
    unprotect = ran.index(["rds", "modify-db-cluster"])
    unprotect_pool = ran.index(["cognito-idp", "update-user-pool"])
    assert max(termination, unprotect, unprotect_pool) < deleted
    assert calls[unprotect][2:5] == [
        "--db-cluster-identifier",
        "todo-prod-cluster",
        "--no-deletion-protection",
    ]
    assert calls[unprotect_pool][2:6] == [
        "--user-pool-id",
        "eu-west-1_AbC",
        "--deletion-protection",
        "INACTIVE",
    ]


@pytest.mark.usefixtures("fake_aws")
@pytest.mark.parametrize("status", ["AVAILABLE", "PENDING"])
def test_connection_status_passes_only_once_the_connection_is_approved(
    assembly: Assembly,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    status: str,
) -> None:
    monkeypatch.setenv("FAKE_CONNECTION", status)
    approved = status == "AVAILABLE"
    assert main(["--assembly", str(assembly.root), "--run", "connection"]) == (0 if approved else 1)
    assert ("Update pending connection" in capsys.readouterr().err) is not approved


def _make_dry_run(*args: str) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=ROOT,
        env={**os.environ, "MAKEFLAGS": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]


def test_make_hands_run_and_policy_to_the_module() -> None:
    plain = shlex.split(_make_dry_run("bootstrap", "ENV=dev"))
    assert plain[-3:] == ["bootstrap", "--environment", "dev"]
    # The first deployment's default: AdministratorAccess, and nothing runs without RUN=1.
    assert "--run" not in plain and "--administrator-access" in plain
    generated = shlex.split(_make_dry_run("bootstrap", "ENV=dev", "RUN=1", "POLICY=generated"))
    assert "--run" in generated and "--administrator-access" not in generated


def test_administrator_access_replaces_the_generated_policies(
    assembly: Assembly,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    out = tmp_path / "bootstrap"
    argv = ["--assembly", str(assembly.root), "--out", str(out), "--administrator-access"]
    argv += ["bootstrap", "--pipeline"]
    ((*_, policies_flag, policies, _app, _out, _notices),) = _printed(capsys, *argv)
    assert (policies_flag, policies) == (
        "--cloudformation-execution-policies",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    )
    assert not out.exists()


def _tiny_assembly(directory: Path, resource_type: str) -> Path:
    template = {"Resources": {"Thing": {"Type": resource_type, "Properties": {}}}}
    (directory / "todo-pipeline.template.json").parent.mkdir(parents=True, exist_ok=True)
    (directory / "todo-pipeline.template.json").write_text(json.dumps(template))
    artifact = {
        "type": "aws:cloudformation:stack",
        "environment": "aws://111111111111/eu-west-1",
        "properties": {"templateFile": "todo-pipeline.template.json", "stackName": "todo-pipeline"},
    }
    (directory / "manifest.json").write_text(json.dumps({"artifacts": {"Pipeline": artifact}}))
    return directory


def test_a_resource_type_without_known_permissions_stops_with_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "bootstrap"
    tiny = _tiny_assembly(tmp_path / "cdk.out", "AWS::Made::Up")
    assert main(["--assembly", str(tiny), "--out", str(out), "execution-policies"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: todo-pipeline: Thing is a AWS::Made::Up, whose CloudFormation")
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["bootstrap", "--environment", "qa"],
            "error: no environment named 'qa' (environments: dev, staging, prod)",
        ),
        (["deploy-pipeline"], "not found: run make synth first"),
        (
            ["delete-failed-stack", "--stack", "todo-qa-stateful"],
            "error: no stack named 'todo-qa-stateful'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    assembly: Assembly,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    where = assembly.root if argv[0] != "deploy-pipeline" else tmp_path / "missing"
    assert main(["--assembly", str(where), *argv]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line
