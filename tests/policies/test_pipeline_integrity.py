"""The pipeline-integrity gate: its fixtures (one weakening per invariant, each named), and the
real pipeline, synthesized with a weakened environment file or reordered, failing it."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.cloud_assembly import read_cloud_assembly
from config.exit_codes import FAILURE, SUCCESS
from config.model import DeliveryConfig, EnvironmentConfig, load_config
from config.names import checks_role_name
from config.paths import ROOT
from policies.pipeline_integrity import (
    INVARIANTS,
    Violation,
    judge,
    judge_assembly,
    load_floor,
    main,
)
from tests.support.assembly import Assembly, synthesize_or_fail, variant_assembly

FIXTURES = Path(__file__).resolve().parent / "integrity_fixtures"
PASS: dict[str, Any] = yaml.safe_load((FIXTURES / "pass.yaml").read_text(encoding="utf-8"))
MUTATIONS: dict[str, str] = yaml.safe_load((FIXTURES / "fail.yaml").read_text(encoding="utf-8"))
EXPECTED: dict[str, list[str]] = yaml.safe_load(
    (FIXTURES / "expected.yaml").read_text(encoding="utf-8")
)


def _fixture_environments(config: DeliveryConfig) -> list[EnvironmentConfig]:
    return [e for e in config.environments if e.name in {"dev", "prod"}]


def _actions(template: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    stages = template["Resources"]["Pipeline"]["Properties"]["Stages"]
    return [(stage, action) for stage in stages for action in stage["Actions"]]


def _action(template: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    (found,) = [(stage, action) for stage, action in _actions(template) if action["Name"] == name]
    return found


def _stage(template: dict[str, Any], name: str) -> dict[str, Any]:
    stages = template["Resources"]["Pipeline"]["Properties"]["Stages"]
    found: dict[str, Any] = next(stage for stage in stages if stage["Name"] == name)
    return found


def _move(template: dict[str, Any], name: str, target: str | None) -> None:
    stage, action = _action(template, name)
    stage["Actions"].remove(action)
    if target is not None:
        _stage(template, target)["Actions"].append(action)


def _set_variable(resource: dict[str, Any], variable: str, value: str) -> None:
    (item,) = [
        item
        for item in resource["Properties"]["Environment"]["EnvironmentVariables"]
        if item["Name"] == variable
    ]
    item["Value"] = value


def _mutate_policy(resources: dict[str, Any], words: list[str]) -> bool:
    """The IAM weakenings of fail.yaml; False when ``words`` is not one."""
    admin = "arn:aws:iam::444444444444:role/admin"
    match words:
        case ["add", policy, arn]:
            statements = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
            statements[0]["Resource"].append(arn)
        case ["inline", role, arn]:
            document = resources[role]["Properties"]["Policies"][0]["PolicyDocument"]
            statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arn}
            document["Statement"].append(statement)
        case ["sub", policy, arn]:
            statements = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
            statements[0]["Resource"].append({"Fn::Sub": arn})
        case ["assume-pattern", policy, action]:
            statements = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
            statements.append({"Effect": "Allow", "Action": action, "Resource": admin})
        case _:
            return False
    return True


def _mutate(template: dict[str, Any], mutation: str) -> dict[str, Any]:
    """Apply one line of fail.yaml to a copy of ``template``."""
    result = copy.deepcopy(template)
    resources = result["Resources"]
    if _mutate_policy(resources, mutation.split()):
        return result
    match mutation.split():
        case ["drop", "action", name]:
            _move(result, name, None)
        case ["move", "action", name, "to", "stage", target]:
            _move(result, name, target)
        case ["set", name, "RunOrder", order]:
            _action(result, name)[1]["RunOrder"] = int(order)
        case ["set", name, "Provider", provider]:
            _action(result, name)[1]["ActionTypeId"] = {"Category": "Build", "Provider": provider}
        case ["set", project, "BuildSpec", *command]:
            spec = {"phases": {"build": {"commands": [" ".join(command)]}}}
            resources[project]["Properties"]["Source"]["BuildSpec"] = json.dumps(spec)
        case ["set", project, variable, value]:
            _set_variable(resources[project], variable, value)
        case ["condition", "OnFailure", stage_name]:
            _stage(result, stage_name)["OnFailure"]["Conditions"] = [
                {"Result": "ROLLBACK", "Rules": [{"Name": "never"}]}
            ]
        case ["drop", "OnFailure", stage_name]:
            stages = resources["Pipeline"]["Properties"]["Stages"]
            next(stage for stage in stages if stage["Name"] == stage_name).pop("OnFailure")
        case _:
            raise ValueError(f"unknown mutation {mutation!r}")
    return result


def test_the_pass_fixture_keeps_every_invariant(config: DeliveryConfig) -> None:
    environments = _fixture_environments(config)
    assert judge(PASS, environments, load_floor(), pipeline_account="111111111111") == []


def test_every_invariant_has_a_failing_fixture() -> None:
    assert MUTATIONS.keys() == EXPECTED.keys()
    assert {invariant for invariant, _ in EXPECTED.values()} == set(INVARIANTS)


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_each_weakening_fails_exactly_its_invariant(config: DeliveryConfig, case: str) -> None:
    template = _mutate(PASS, MUTATIONS[case])
    found = judge(
        template, _fixture_environments(config), load_floor(), pipeline_account="111111111111"
    )
    invariant, message = EXPECTED[case]
    assert found == [Violation(invariant, message)]
    assert str(found[0]).startswith(f"pipeline integrity [{invariant}]: ")


def test_the_synthesized_pipeline_keeps_every_invariant(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    found = judge_assembly(
        assembly.root,
        list(config.environments),
        pipeline_account=config.pipeline.account,
        project=config.project.name,
    )
    assert found == []


def test_reordering_the_scan_gate_after_the_first_environment_fails(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    template = copy.deepcopy(assembly.pipeline_template)
    ((_, pipeline),) = [
        (k, r)
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::CodePipeline::Pipeline"
    ]
    stages = pipeline["Properties"]["Stages"]
    build = next(s for s in stages if s["Name"] == "Build")
    images = next(a for a in build["Actions"] if a["Name"] == "Images")
    build["Actions"].remove(images)
    first = config.environments[0].name
    next(s for s in stages if s["Name"] == first)["Actions"].append(images)
    found = judge(
        template,
        list(config.environments),
        load_floor(),
        pipeline_account=config.pipeline.account,
        project=config.project.name,
    )
    assert found == [
        Violation("scan-gate", f"the image scan gate runs in stage {first}, not before {first}")
    ]


@pytest.fixture(scope="module")
def weakened(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DeliveryConfig]:
    """The real tree synthesized with prod's approval switched off and its bake at zero."""
    directory = tmp_path_factory.mktemp("weakened")
    text = (ROOT / "config/environments.toml").read_text(encoding="utf-8")
    prod = text.index('name = "prod"')
    head, tail = text[:prod], text[prod:]
    tail = tail.replace("approval_required = true", "approval_required = false", 1)
    tail = re.sub(r"^bake_minutes = \d+$", "bake_minutes = 0", tail, count=1, flags=re.M)
    config_file = directory / "environments.toml"
    config_file.write_text(head + tail, encoding="utf-8")
    outdir = synthesize_or_fail(directory / "cdk.out", config_file=config_file)
    return outdir, load_config(config_file)


def test_a_file_that_drops_the_prod_approval_and_bake_fails_both_invariants(
    weakened: tuple[Path, DeliveryConfig],
) -> None:
    outdir, config = weakened
    prod = next(e for e in config.environments if e.name == "prod")
    assert (prod.approval_required, prod.bake_minutes) == (False, 0)
    found = judge_assembly(
        outdir,
        list(config.environments),
        pipeline_account=config.pipeline.account,
        project=config.project.name,
    )
    invariant, message = EXPECTED["approval-removed"]
    assert found == [
        Violation(invariant, message),
        Violation("bake-floor", "prod: bakes 0 minutes, the floor is 30"),
    ]


def test_the_diff_comment_names_each_violated_invariant(
    weakened: tuple[Path, DeliveryConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outdir, _ = weakened
    monkeypatch.setenv("DELIVERY_CONFIG", str(outdir.parent / "environments.toml"))
    report = tmp_path / "report.md"
    report.write_text("## Template diff\n", encoding="utf-8")
    assert main([str(outdir), "--append", str(report), "--report-only"]) == SUCCESS
    assert main([str(outdir)]) == FAILURE
    text = report.read_text(encoding="utf-8")
    assert text.startswith("## Template diff\n\n## Pipeline integrity\n")
    assert "**This change weakens the pipeline: the policy gate fails it (2 violations).**" in text
    assert "- `approval`: prod: no manual approval Approve-prod just before its stage" in text
    assert "- `bake-floor`: prod: bakes 0 minutes, the floor is 30" in text


def _grant(statement: dict[str, Any]) -> dict[str, Any]:
    return {
        "PolicyName": "more",
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
    }


ANY_POOL = "arn:aws:cognito-idp:*:*:userpool/*"
ONE_POOL = "arn:aws:cognito-idp:eu-west-1:222222222222:userpool/eu-west-1_AbC"
# How a commit could widen the checks role, and what the gate says ("{where}": the role).
WIDENINGS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "managed policy": (
        lambda role: role["Properties"].update(
            ManagedPolicyArns=["arn:aws:iam::aws:policy/AdministratorAccess"]
        ),
        "{where} has managed policies",
    ),
    "another action": (
        lambda role: role["Properties"].update(
            Policies=[_grant({"Effect": "Allow", "Action": "s3:GetObject", "Resource": ONE_POOL})]
        ),
        "{where} may also s3:GetObject",
    ),
    "every pool": (
        lambda role: role["Properties"].update(
            Policies=[
                _grant(
                    {
                        "Effect": "Allow",
                        "Action": "cognito-idp:AdminDeleteUser",
                        "Resource": ANY_POOL,
                    }
                )
            ]
        ),
        "{where} acts on " + ANY_POOL + ", not one user pool",
    ),
    "not action": (
        lambda role: role["Properties"].update(
            Policies=[_grant({"Effect": "Allow", "NotAction": "iam:*", "Resource": ONE_POOL})]
        ),
        "{where} has a NotAction or NotResource grant",
    ),
    "trusts anyone": (
        lambda role: role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0].update(
            Principal={"AWS": "*"}
        ),
        '{where} trusts more than the pipeline account: {{"AWS": "*"}}',
    ),
}


@pytest.mark.parametrize("widening", sorted(WIDENINGS))
def test_the_checks_role_may_be_assumed_only_while_it_can_do_no_more_than_sign_users_in(
    assembly: Assembly, config: DeliveryConfig, tmp_path: Path, widening: str
) -> None:
    """The Verify step assumes the environment's checks role; a commit that gives that role
    more fails the gate, since the pipeline could use it."""
    variant = variant_assembly(assembly.root, tmp_path / "cdk.out")
    dev = config.environments[0]
    role_name = checks_role_name(config.project.name, dev.name)
    stack, template, role = _checks_role(variant, dev.name, role_name)
    change, message = WIDENINGS[widening]
    change(template["Resources"][role])
    stack.template_file.write_text(json.dumps(template), encoding="utf-8")

    found = _judge(variant, config)
    where = f"{dev.name}: {stack.name}/{role} ({role_name})"
    assert found == [Violation("step-roles", message.format(where=where))]


def test_a_checks_role_the_gate_cannot_find_or_read_fails_closed(
    assembly: Assembly, config: DeliveryConfig, tmp_path: Path
) -> None:
    variant = variant_assembly(assembly.root, tmp_path / "cdk.out")
    dev = config.environments[0]
    role_name = checks_role_name(config.project.name, dev.name)
    stack, template, role = _checks_role(variant, dev.name, role_name)
    template["Resources"][role]["Properties"]["RoleName"] = {
        "Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-checks"]]
    }
    stack.template_file.write_text(json.dumps(template), encoding="utf-8")

    assert _judge(variant, config) == [
        Violation(
            "step-roles",
            f"{dev.name}: {stack.name}/{role} is named by a reference: it could be {role_name}",
        ),
        Violation(
            "step-roles",
            f"{dev.name}: a pipeline step may assume {role_name}, which must be one role of the "
            "environment's templates; 0 are",
        ),
    ]


def _checks_role(
    variant: Path, environment: str, role_name: str
) -> tuple[Any, dict[str, Any], str]:
    for stack in read_cloud_assembly(variant).environment_stacks(environment):
        template = json.loads(stack.template_file.read_text(encoding="utf-8"))
        for logical_id, resource in template["Resources"].items():
            if (
                resource["Type"] == "AWS::IAM::Role"
                and resource["Properties"].get("RoleName") == role_name
            ):
                return stack, template, logical_id
    raise AssertionError(f"no role {role_name} in {environment}")


def _judge(variant: Path, config: DeliveryConfig) -> list[Violation]:
    return judge_assembly(
        variant,
        list(config.environments),
        pipeline_account=config.pipeline.account,
        project=config.project.name,
    )
