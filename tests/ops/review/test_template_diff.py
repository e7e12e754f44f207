"""The offline template diff names exactly what a change does, per environment."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from config.exit_codes import BAD_INPUT
from infra.services.tracing import COLLECTOR_NAME
from ops.review.template_diff import (
    OFFLINE_LIMITS,
    diff_assemblies,
    diff_environment,
    diff_environments,
    main,
    render_markdown,
)
from tests.support.assembly import Assembly

BASE: dict[str, Any] = {
    "Resources": {
        "Database": {
            "Type": "AWS::RDS::DBCluster",
            "Properties": {
                "Engine": "aurora-postgresql",
                "DBClusterIdentifier": "todo",
                "BackupRetentionPeriod": 7,
            },
            "DeletionPolicy": "Snapshot",
        },
        "TaskPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyDocument": {
                    "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "q"}]
                }
            },
        },
        "ApiSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "api", "SecurityGroupIngress": []},
        },
        "Logs": {"Type": "AWS::S3::Bucket", "Properties": {}, "Metadata": {"aws:cdk:path": "a"}},
    }
}


def _write_assembly(root: Path, environments: dict[str, dict[str, dict[str, Any]]]) -> Path:
    """A minimal cloud assembly: the pipeline stack at top level, one nested assembly per env."""
    root.mkdir(parents=True)
    artifacts: dict[str, Any] = {}
    for environment, stacks in environments.items():
        directory = root if environment == "pipeline" else root / f"assembly-Pipeline-{environment}"
        if environment != "pipeline":
            directory.mkdir()
            artifacts[directory.name] = {
                "type": "cdk:cloud-assembly",
                "properties": {"directoryName": directory.name},
            }
        nested: dict[str, Any] = {}
        for name, template in stacks.items():
            (directory / f"{name}.template.json").write_text(json.dumps(template))
            entry = {
                "type": "aws:cloudformation:stack",
                "properties": {"templateFile": f"{name}.template.json", "stackName": name},
            }
            (artifacts if environment == "pipeline" else nested)[name] = entry
        if environment != "pipeline":
            (directory / "manifest.json").write_text(json.dumps({"artifacts": nested}))
    (root / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return root


def _diff(tmp_path: Path, head: dict[str, Any], *, base: dict[str, Any] | None = None) -> list[Any]:
    base_dir = _write_assembly(
        tmp_path / "base", {"pipeline": {}, "prod": {"todo-prod-stateful": base or BASE}}
    )
    head_dir = _write_assembly(
        tmp_path / "head", {"pipeline": {}, "prod": {"todo-prod-stateful": head}}
    )
    (prod,) = [env for env in diff_assemblies(base_dir, head_dir) if env.environment == "prod"]
    return prod.changes


def test_renaming_a_database_is_a_replacement_that_puts_data_at_risk(tmp_path: Path) -> None:
    head = copy.deepcopy(BASE)
    head["Resources"]["Database"]["Properties"]["DBClusterIdentifier"] = "todo-2"
    (change,) = _diff(tmp_path, head)
    assert (change.logical_id, change.kind, change.properties) == (
        "Database",
        "replaced",
        ("DBClusterIdentifier",),
    )
    assert change.data_at_risk


def test_tuning_a_database_is_an_in_place_change(tmp_path: Path) -> None:
    head = copy.deepcopy(BASE)
    head["Resources"]["Database"]["Properties"]["BackupRetentionPeriod"] = 30
    (change,) = _diff(tmp_path, head)
    assert (change.kind, change.properties, change.data_at_risk) == (
        "changed",
        ("BackupRetentionPeriod",),
        False,
    )


def test_removing_a_bucket_and_adding_a_queue(tmp_path: Path) -> None:
    head = copy.deepcopy(BASE)
    del head["Resources"]["Logs"]
    head["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    changes = {c.logical_id: c for c in _diff(tmp_path, head)}
    assert set(changes) == {"Logs", "Queue"}
    assert changes["Logs"].kind == "removed" and changes["Logs"].data_at_risk
    assert changes["Queue"].kind == "added" and not changes["Queue"].data_at_risk


def test_policy_and_security_group_changes_are_flagged(tmp_path: Path) -> None:
    head = copy.deepcopy(BASE)
    head["Resources"]["TaskPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Action"] = (
        "sqs:*"
    )
    head["Resources"]["ApiSecurityGroup"]["Properties"]["SecurityGroupIngress"] = [
        {"CidrIp": "0.0.0.0/0"}
    ]
    changes = {c.logical_id: c for c in _diff(tmp_path, head)}
    assert changes["TaskPolicy"].iam and not changes["TaskPolicy"].security_group
    assert changes["ApiSecurityGroup"].security_group and not changes["ApiSecurityGroup"].iam


def test_metadata_and_deletion_policy(tmp_path: Path) -> None:
    head = copy.deepcopy(BASE)
    head["Resources"]["Logs"]["Metadata"] = {"aws:cdk:path": "b"}
    head["Resources"]["Database"]["DeletionPolicy"] = "Delete"
    (change,) = _diff(tmp_path, head)
    assert (change.logical_id, change.kind, change.properties) == (
        "Database",
        "changed",
        ("DeletionPolicy",),
    )


def test_markdown_puts_stateful_replacement_in_bold(tmp_path: Path) -> None:
    head = copy.deepcopy(BASE)
    head["Resources"]["Database"]["Properties"]["DBClusterIdentifier"] = "todo-2"
    base_dir = _write_assembly(
        tmp_path / "base", {"pipeline": {}, "prod": {"todo-prod-stateful": BASE}}
    )
    head_dir = _write_assembly(
        tmp_path / "head",
        {"pipeline": {}, "prod": {"todo-prod-stateful": head}, "dev": {"todo-dev-stateful": BASE}},
    )
    text = render_markdown(diff_assemblies(base_dir, head_dir))
    assert "### prod: 1 replaced" in text
    assert "**Stateful resources would be replaced or removed in this environment.**" in text
    row = "- **replaced `Database` (AWS::RDS::DBCluster)** — DBClusterIdentifier"
    # DeletionPolicy Snapshot does not cover a replacement: without an UpdateReplacePolicy the
    # old cluster is deleted, no snapshot taken.
    consequence = "deleted and replaced by an EMPTY one (no UpdateReplacePolicy: Delete by default)"
    assert f"{row} [**STATEFUL: {consequence}**]" in text
    assert "### dev: 4 added" in text
    assert "- stack `todo-dev-stateful` added" in text


def test_identical_assemblies_have_no_changes(assembly: Assembly) -> None:
    diffs = diff_assemblies(assembly.root, assembly.root)
    assert {env.environment for env in diffs} == {"pipeline", "dev", "staging", "prod"}
    assert all(env.changes == [] for env in diffs)


def test_moving_environments_into_the_pipeline_account_removes_the_artifact_key(
    assembly: Assembly, shared_account_assembly: Assembly
) -> None:
    (pipeline,) = [
        e
        for e in diff_assemblies(assembly.root, shared_account_assembly.root)
        if e.environment == "pipeline"
    ]
    removed = {(c.resource_type, c.kind) for c in pipeline.changes if c.data_at_risk}
    assert ("AWS::KMS::Key", "removed") in removed
    assert any(c.iam for c in pipeline.changes)


def test_cli_rejects_a_directory_that_is_not_an_assembly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path), str(tmp_path)])
    assert exited.value.code == BAD_INPUT
    assert capsys.readouterr().err == (
        f"template diff: {tmp_path}/manifest.json not found: run make synth first\n"
    )


def _synthesize_known_app(outdir: Path, *, changed: bool) -> Path:
    """A real CDK synthesis of one stage; ``changed`` adds a queue, renames the database (a
    replacement) and lets the task role send to the queue (an IAM change)."""
    from aws_cdk import App, Stack, Stage  # noqa: PLC0415
    from aws_cdk import aws_iam as iam  # noqa: PLC0415
    from aws_cdk import aws_rds as rds  # noqa: PLC0415
    from aws_cdk import aws_sqs as sqs  # noqa: PLC0415

    app = App(outdir=str(outdir), analytics_reporting=False)
    stack = Stack(Stage(app, "dev"), "Data", stack_name="todo-dev-stateful")
    rds.CfnDBCluster(
        stack,
        "Database",
        engine="aurora-postgresql",
        db_cluster_identifier="todo-v2" if changed else "todo",
        manage_master_user_password=True,
        master_username="todo",
        storage_encrypted=True,
    )
    role = iam.Role(stack, "TaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    role.add_to_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::todo/*"])
    )
    if changed:
        queue = sqs.Queue(stack, "Work")
        queue.grant_send_messages(role)
    app.synth()
    return outdir


def test_two_real_syntheses_report_exactly_the_known_change(tmp_path: Path) -> None:
    base = _synthesize_known_app(tmp_path / "base", changed=False)
    head = _synthesize_known_app(tmp_path / "head", changed=True)
    (dev,) = diff_assemblies(base, head)
    assert dev.environment == "dev"
    assert [(s.stack, s.kind) for s in dev.stacks] == [("todo-dev-stateful", "changed")]
    assert sorted((c.resource_type, c.kind, c.data_at_risk, c.iam) for c in dev.changes) == [
        ("AWS::IAM::Policy", "changed", False, True),
        ("AWS::RDS::DBCluster", "replaced", True, False),
        ("AWS::SQS::Queue", "added", False, False),
    ]
    text = render_markdown(diff_assemblies(base, head))
    assert text.startswith(
        f"## Template diff\n\n{OFFLINE_LIMITS}\n\n### dev: 1 added, 1 changed, 1 replaced\n"
    )
    assert "**Stateful resources would be replaced or removed in this environment.**" in text
    assert "IAM permissions change in this environment." in text
    assert "Security groups change" not in text


@pytest.mark.parametrize(
    ("stack", "resource_type", "create_only", "dependents", "consequence"),
    [
        # The DB instances name their cluster by a create-only property: they go with it.
        (
            "todo-prod-stateful",
            "AWS::RDS::DBCluster",
            "DBClusterIdentifier",
            2,
            "snapshot taken, then a new EMPTY one (UpdateReplacePolicy Snapshot)",
        ),
        # Stateful by type, not by stack: the stateless stack's log groups hold data too.
        (
            "todo-prod-stateless",
            "AWS::Logs::LogGroup",
            "LogGroupName",
            0,
            "old one retained, a new EMPTY one is created (UpdateReplacePolicy Retain)",
        ),
    ],
)
def test_a_stateful_replacement_is_bold_in_either_stack_of_the_environment(
    assembly: Assembly,
    tmp_path: Path,
    *,
    stack: str,
    resource_type: str,
    create_only: str,
    dependents: int,
    consequence: str,
) -> None:
    base = assembly.template(stack)
    head = copy.deepcopy(base)
    logical_id, resource = next(
        (logical_id, resource)
        for logical_id, resource in head["Resources"].items()
        if resource["Type"] == resource_type and create_only in resource.get("Properties", {})
    )
    resource["Properties"][create_only] = "renamed"
    base_dir = _write_assembly(tmp_path / "base", {"pipeline": {}, "prod": {stack: base}})
    head_dir = _write_assembly(tmp_path / "head", {"pipeline": {}, "prod": {stack: head}})
    environments = diff_assemblies(base_dir, head_dir)
    (prod,) = [env for env in environments if env.environment == "prod"]
    changes = {change.logical_id: change for change in prod.changes}
    change = changes[logical_id]
    assert (change.kind, change.data_at_risk, change.causes) == ("replaced", True, ())
    instances = [c for c in changes.values() if c.resource_type == "AWS::RDS::DBInstance"]
    assert len(instances) == dependents
    assert all(c.kind == "replaced" and c.causes == (logical_id,) for c in instances)
    assert change.consequence == consequence
    text = render_markdown(environments)
    assert f"[**STATEFUL: {consequence}**]" in text
    # An Aurora instance keeps no data of its own: its line says so instead of "EMPTY".
    assert all(c.consequence == "no data of its own: its DB cluster holds it" for c in instances)
    assert "**Stateful resources would be replaced or removed in this environment.**" in text


def _pipeline(stages: list[str]) -> dict[str, Any]:
    return {
        "Resources": {
            "Pipeline": {
                "Type": "AWS::CodePipeline::Pipeline",
                "Properties": {"Stages": [{"Name": name, "Actions": []} for name in stages]},
            },
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "a"}},
        }
    }


@pytest.mark.parametrize(
    ("head", "resets"),
    [
        (_pipeline(["Source", "Build", "dev", "prod"]), True),
        # Another resource of the pipeline stack: the structure CodePipeline keeps is the same.
        ({**_pipeline(["Source", "Build", "dev"]), "Outputs": {}}, False),
    ],
)
def test_a_change_to_the_pipeline_resource_says_it_resets_the_rollback_history(
    tmp_path: Path, head: dict[str, Any], resets: bool
) -> None:
    base = _pipeline(["Source", "Build", "dev"])
    head_stack = copy.deepcopy(head)
    head_stack["Resources"]["Topic"]["Properties"]["TopicName"] = "b"
    base_dir = _write_assembly(tmp_path / "base", {"pipeline": {"todo-pipeline": base}})
    head_dir = _write_assembly(tmp_path / "head", {"pipeline": {"todo-pipeline": head_stack}})
    text = render_markdown(diff_assemblies(base_dir, head_dir))
    assert ("this resets the rollback history" in text) is resets
    assert "### pipeline: " in text


def _vpc_template(cidr: str) -> dict[str, Any]:
    return {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}},
            "Subnet": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.10.0.0/24"},
            },
            "Budget": {
                "Type": "AWS::Budgets::Budget",
                "Properties": {
                    "Budget": {
                        "BudgetName": "todo-staging",
                        "BudgetType": "COST",
                        "TimeUnit": "MONTHLY",
                        "BudgetLimit": {"Amount": 150, "Unit": "USD"},
                    }
                },
            },
        },
        "Outputs": {"VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": "todo-staging-vpc"}}},
    }


def _consumer(reference: dict[str, Any], *, port: int, peer: str) -> dict[str, Any]:
    """A stack whose security group reads the VPC of another stack through ``reference``."""
    return {
        "Resources": {
            "AlbSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "alb",
                    "VpcId": reference,
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": peer}
                    ],
                },
            },
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        }
    }


GET_STACK_OUTPUT = {
    "Fn::GetStackOutput": {
        "StackName": "todo-staging-stateful",
        "Region": "eu-west-1",
        "OutputName": "VpcId",
    }
}


def test_a_budget_amount_is_updated_in_place() -> None:
    """Budget's create-only path is Budget/BudgetName, not the whole Budget property."""
    head = _vpc_template("10.0.0.0/16")
    head["Resources"]["Budget"]["Properties"]["Budget"]["BudgetLimit"]["Amount"] = 200
    diff = diff_environment("staging", {"s": _vpc_template("10.0.0.0/16")}, {"s": head})
    (change,) = diff.changes
    assert (change.logical_id, change.kind, change.properties) == ("Budget", "changed", ("Budget",))


def test_a_cidr_change_replaces_the_vpc_and_the_subnet_that_references_it() -> None:
    diff = diff_environment(
        "staging", {"s": _vpc_template("10.0.0.0/16")}, {"s": _vpc_template("10.1.0.0/16")}
    )
    verdicts = {c.logical_id: (c.kind, c.replacing, c.causes) for c in diff.changes}
    assert verdicts == {
        "Vpc": ("replaced", ("CidrBlock",), ()),
        "Subnet": ("replaced", ("VpcId",), ("Vpc",)),
    }
    text = render_markdown([diff])
    assert "- replaced `Subnet` (AWS::EC2::Subnet) — VpcId, because `Vpc` is replaced" in text


@pytest.mark.parametrize(
    "reference",
    [
        GET_STACK_OUTPUT,
        {"Fn::ImportValue": "todo-staging-vpc"},
        # Inside lists, where most of the real templates' cross-stack reads sit.
        {"Fn::Join": ["", [GET_STACK_OUTPUT]]},
        {"Fn::Select": [0, [{"Fn::ImportValue": "todo-staging-vpc"}]]},
    ],
    ids=["output", "export", "output-in-a-join", "export-in-a-list"],
)
def test_a_replacement_reaches_the_stacks_that_read_it(reference: dict[str, Any]) -> None:
    consumer = _consumer(reference, port=443, peer="10.0.0.0/16")
    old = {
        "todo-staging-stateful": _vpc_template("10.0.0.0/16"),
        "todo-staging-stateless": consumer,
    }
    new = {**old, "todo-staging-stateful": _vpc_template("10.1.0.0/16")}
    diff = diff_environment("staging", old, new)
    (stateless,) = [s for s in diff.stacks if s.stack == "todo-staging-stateless"]
    (change,) = stateless.changes
    assert (change.logical_id, change.kind, change.replacing, change.causes) == (
        "AlbSecurityGroup",
        "replaced",
        ("VpcId",),
        ("todo-staging-stateful/Vpc",),
    )
    assert stateless.verdict.rules_added == stateless.verdict.rules_removed == ()
    assert (
        "- replaced `AlbSecurityGroup` (AWS::EC2::SecurityGroup) — VpcId, because "
        "`todo-staging-stateful/Vpc` is replaced [security group]"
    ) in render_markdown([diff])


def test_what_reads_a_replaced_resource_in_another_stack_is_updated_in_place_and_says_why() -> None:
    """A property that is not create-only still gets the new value: the resource redeploys."""
    stateful = {"Outputs": {"SubnetId": {"Value": {"Ref": "Subnet"}}}}
    old_stateful = _vpc_template("10.0.0.0/16") | stateful
    new_stateful = _vpc_template("10.1.0.0/16") | stateful
    subnet = {
        "Fn::GetStackOutput": {**GET_STACK_OUTPUT["Fn::GetStackOutput"], "OutputName": "SubnetId"}
    }
    consumer = {
        "Resources": {
            "Alarms": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"DisplayName": {"Fn::Join": ["-", ["in", subnet]]}},
            },
            "Untouched": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "todo"}},
        }
    }
    old = {"todo-staging-stateful": old_stateful, "todo-staging-stateless": consumer}
    new = {**old, "todo-staging-stateful": new_stateful}
    (stateless,) = [
        s for s in diff_environment("staging", old, new).stacks if s.stack.endswith("stateless")
    ]
    assert [(c.logical_id, c.kind, c.properties, c.causes) for c in stateless.changes] == [
        ("Alarms", "changed", ("DisplayName",), ("todo-staging-stateful/Subnet",))
    ]


def test_a_replacement_stays_in_its_environment() -> None:
    """prod's stack of the same output name reads its own environment's VPC, not staging's."""
    consumer = _consumer({"Fn::ImportValue": "todo-staging-vpc"}, port=443, peer="10.0.0.0/16")
    staging = {"todo-staging-stateful": _vpc_template("10.0.0.0/16")}
    diffs = diff_environments(
        {
            "staging": (staging, {"todo-staging-stateful": _vpc_template("10.1.0.0/16")}),
            "prod": ({"todo-prod-stateless": consumer}, {"todo-prod-stateless": consumer}),
        }
    )
    assert [(d.environment, len(d.changes)) for d in diffs] == [("staging", 2), ("prod", 0)]


def test_an_ingress_change_names_the_peer_and_the_port() -> None:
    old = {"s": _consumer(GET_STACK_OUTPUT, port=80, peer="10.0.0.0/16")}
    new = {"s": _consumer(GET_STACK_OUTPUT, port=443, peer="0.0.0.0/0")}
    text = render_markdown([diff_environment("staging", old, new)])
    assert "| + | `s` | ${AlbSecurityGroup.GroupId} | ingress | Everyone (IPv4) | TCP 443 |" in text
    assert "| - | `s` | ${AlbSecurityGroup.GroupId} | ingress | 10.0.0.0/16 | TCP 80 |" in text


def test_an_added_statement_names_its_actions_and_resources() -> None:
    head = copy.deepcopy(BASE)
    head["Resources"]["TaskPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": "arn:aws:s3:::todo/*",
        }
    )
    head["Resources"]["TaskPolicy"]["Properties"]["Roles"] = [{"Ref": "TaskRole"}]
    base = copy.deepcopy(BASE)
    base["Resources"]["TaskPolicy"]["Properties"]["Roles"] = [{"Ref": "TaskRole"}]
    diff = diff_environment("prod", {"s": base}, {"s": head})
    text = render_markdown([diff])
    assert (
        "| + | `s` | Allow | s3:GetObject, s3:PutObject | arn:aws:s3:::todo/* | AWS:${TaskRole} |"
    ) in text
    assert "| - |" not in text


def test_outputs_are_diffed() -> None:
    old = _vpc_template("10.0.0.0/16")
    new = copy.deepcopy(old)
    new["Outputs"]["SubnetId"] = {"Value": {"Ref": "Subnet"}}
    new["Outputs"]["VpcId"]["Export"]["Name"] = "todo-staging-vpc-id"
    (stack,) = diff_environment("staging", {"s": old}, {"s": new}).stacks
    assert dict(stack.verdict.outputs) == {"SubnetId": "added", "VpcId": "changed"}
    assert "  - outputs added `SubnetId`; changed `VpcId`" in render_markdown(
        [diff_environment("staging", {"s": old}, {"s": new})]
    )


def test_an_endpoint_dns_option_is_updated_in_place() -> None:
    """Only DnsOptions/PrivateDnsOnlyForInboundResolverEndpoint is create-only, not DnsOptions."""

    def endpoint(ip_type: str) -> dict[str, Any]:
        properties = {
            "VpcId": "vpc-1",
            "ServiceName": "com.amazonaws.eu-west-1.s3",
            "DnsOptions": {"DnsRecordIpType": ip_type},
        }
        return {
            "Resources": {"Endpoint": {"Type": "AWS::EC2::VPCEndpoint", "Properties": properties}}
        }

    diff = diff_environment("dev", {"s": endpoint("ipv4")}, {"s": endpoint("dualstack")})
    assert [(c.kind, c.properties) for c in diff.changes] == [("changed", ("DnsOptions",))]


def test_a_removed_stateful_resource_says_what_its_deletion_policy_does(tmp_path: Path) -> None:
    """A removal follows the deployed (old) template's DeletionPolicy, a replacement the new
    template's UpdateReplacePolicy: each line says which and what happens to the data."""
    head = copy.deepcopy(BASE)
    del head["Resources"]["Database"]
    head["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    base = copy.deepcopy(BASE)
    base["Resources"]["Queue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"QueueName": "a"},
        "UpdateReplacePolicy": "Retain",
    }
    head["Resources"]["Queue"]["Properties"] = {"QueueName": "b"}
    changes = {c.logical_id: c for c in _diff(tmp_path, head, base=base)}
    assert (
        changes["Database"].consequence == "snapshot taken, then deleted (DeletionPolicy Snapshot)"
    )
    # The new template names no UpdateReplacePolicy: the old queue and its messages go.
    assert changes["Queue"].consequence == (
        "deleted and replaced by an EMPTY one (no UpdateReplacePolicy: Delete by default)"
    )


def test_a_change_to_the_api_code_replaces_the_api_task_definition_alone(
    assembly: Assembly, api_change_assembly: Assembly
) -> None:
    """Each image fingerprints only its own service: the API's task definition is replaced and
    the API's service updated in place to run it (CloudFormation's rolling deploy); the worker
    and every other resource stay as they are, in every environment."""

    def what(stack: str, logical_id: str) -> set[str]:
        """A task definition's app containers, or those of the one a service runs (the trace
        collector beside every app is left out)."""
        resources = api_change_assembly.template(stack)["Resources"]
        resource = resources[logical_id]
        if resource["Type"] == "AWS::ECS::Service":
            resource = resources[resource["Properties"]["TaskDefinition"]["Ref"]]
        names = {d["Name"] for d in resource["Properties"].get("ContainerDefinitions", [])}
        return names - {COLLECTOR_NAME}

    changed = {
        env.environment: [
            (
                stack.stack,
                change.resource_type,
                change.kind,
                what(stack.stack, change.logical_id),
                change.properties,
            )
            for stack in env.stacks
            for change in stack.changes
        ]
        for env in diff_assemblies(assembly.root, api_change_assembly.root)
    }
    assert changed == {
        "pipeline": [],
        **{
            environment: sorted(
                [
                    (
                        f"todo-{environment}-stateless",
                        "AWS::ECS::TaskDefinition",
                        "replaced",
                        {"api"},
                        ("ContainerDefinitions",),
                    ),
                    (
                        f"todo-{environment}-stateless",
                        "AWS::ECS::Service",
                        "changed",
                        {"api"},
                        ("TaskDefinition",),
                    ),
                ],
                key=lambda row: row[1],
            )
            for environment in ("dev", "staging", "prod")
        },
    }
