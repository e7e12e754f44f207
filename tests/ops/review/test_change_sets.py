"""The change-set reader returns CloudFormation's verdict from recorded DescribeChangeSet pages.

The fixtures are DescribeChangeSet responses as boto3 returns them; Stubber validates each one
against botocore's service model, so a field the API does not have fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.names import lookup_role_arn
from config.paths import ROOT
from ops.review.change_sets import (
    NO_CHANGE_SET_YET,
    Cause,
    ChangeSetError,
    ChangeSetVerdict,
    ResourceVerdict,
    StatefulConsequence,
    main,
    read_change_set,
    render_markdown,
    stateful_consequences,
)
from tests.support.assembly import Assembly
from tests.support.aws_world import World
from tests.support.clock import FakeClock
from tests.support.codebuild import StepRunner
from tests.support.local_aws import describe

FIXTURES = Path(__file__).parent / "change_set_fixtures"
FAKE_CREDENTIALS: dict[str, Any] = {
    "region_name": "eu-west-1",
    "aws_access_key_id": "x",
    "aws_secret_access_key": "x",
}


def recorded(name: str) -> dict[str, Any]:
    response: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return response


def request(stack: str, next_token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "StackName": stack,
        "ChangeSetName": "PipelineChange",
        "IncludePropertyValues": False,
    }
    if next_token:
        params["NextToken"] = next_token
    return params


def read(pages: list[tuple[str, str | None]], stack: str, **waiting: Any) -> ChangeSetVerdict:
    """The verdict read through a real client whose answers are the recorded pages, in order."""
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    with Stubber(cloudformation) as stub:
        for name, token in pages:
            stub.add_response("describe_change_set", recorded(name), request(stack, token))
        verdict = read_change_set(
            cloudformation, stack_name=stack, change_set_name="PipelineChange", **waiting
        )
        stub.assert_no_pending_responses()
    return verdict


VPC_TOKEN = recorded("vpc_cidr_page1")["NextToken"]


def test_two_pages_are_joined_and_the_token_is_passed_back() -> None:
    verdict = read(
        [("vpc_cidr_page1", None), ("vpc_cidr_page2", VPC_TOKEN)], "todo-staging-stateful"
    )

    assert verdict.outcome == "changes"
    assert verdict.execution_status == "AVAILABLE"
    assert [
        (r.logical_id, r.resource_type, r.action, r.replacement) for r in verdict.resources
    ] == [
        ("Vpc8378EB38", "AWS::EC2::VPC", "Modify", "True"),
        ("VpcPublicSubnet1Subnet5C2D37C4", "AWS::EC2::Subnet", "Modify", "True"),
        ("VpcIsolatedSubnet1SubnetE48C5737", "AWS::EC2::Subnet", "Modify", "True"),
        ("VpcPublicSubnet1NATGateway4D7517AA", "AWS::EC2::NatGateway", "Modify", "True"),
        ("DatabaseClusterSubnets5A3B1F92", "AWS::RDS::DBSubnetGroup", "Modify", "False"),
        ("DatabaseClusterSecurityGroup8E4F0A1C", "AWS::EC2::SecurityGroup", "Modify", "True"),
    ]


def _property_cause(name: str, *, evaluation: str, source: str, entity: str | None = None) -> Cause:
    """A detail on a top-level property that always recreates the resource."""
    return Cause(
        attribute="Properties",
        name=name,
        path=f"/Properties/{name}",
        requires_recreation="Always",
        evaluation=evaluation,
        change_source=source,
        causing_entity=entity,
    )


def test_every_detail_of_a_resource_is_kept_with_its_target() -> None:
    verdict = read(
        [("vpc_cidr_page1", None), ("vpc_cidr_page2", VPC_TOKEN)], "todo-staging-stateful"
    )

    vpc, subnet = verdict.resources[0], verdict.resources[1]
    cidr = _property_cause("CidrBlock", evaluation="Static", source="DirectModification")
    assert vpc.causes == (cidr,)
    assert subnet.causes == (
        cidr,
        _property_cause("VpcId", evaluation="Dynamic", source="DirectModification"),
        _property_cause(
            "VpcId", evaluation="Static", source="ResourceReference", entity="Vpc8378EB38"
        ),
    )
    assert subnet.policy_action == "ReplaceAndDelete"


def test_the_vpc_change_renders_one_row_per_resource_with_its_causes() -> None:
    verdict = read(
        [("vpc_cidr_page1", None), ("vpc_cidr_page2", VPC_TOKEN)], "todo-staging-stateful"
    )

    assert render_markdown([verdict]).splitlines() == [
        "## CloudFormation change sets",
        "",
        "### `todo-staging-stateful`",
        "",
        "From CloudFormation's change set `PipelineChange`: 5 replaced, 1 modified.",
        "",
        "| Resource | Type | Action | Replacement | Caused by |",
        "| --- | --- | --- | --- | --- |",
        "| `Vpc8378EB38` | AWS::EC2::VPC | Modify | True | `CidrBlock` (Always) |",
        "| `VpcPublicSubnet1Subnet5C2D37C4` | AWS::EC2::Subnet | Modify | True | "
        "`CidrBlock` (Always); `VpcId` (Always, via `Vpc8378EB38`) |",
        "| `VpcIsolatedSubnet1SubnetE48C5737` | AWS::EC2::Subnet | Modify | True | "
        "`CidrBlock` (Always); `VpcId` (Always, via `Vpc8378EB38`) |",
        "| `VpcPublicSubnet1NATGateway4D7517AA` | AWS::EC2::NatGateway | Modify | True | "
        "`SubnetId` (Always, via `VpcPublicSubnet1Subnet5C2D37C4`) |",
        "| `DatabaseClusterSubnets5A3B1F92` | AWS::RDS::DBSubnetGroup | Modify | False | "
        "`SubnetIds` (via `VpcIsolatedSubnet1SubnetE48C5737`) |",
        "| `DatabaseClusterSecurityGroup8E4F0A1C` | AWS::EC2::SecurityGroup | Modify | True | "
        "`VpcId` (Always, via `Vpc8378EB38`) |",
    ]


AURORA_TEMPLATE: dict[str, Any] = {
    "Resources": {
        "DatabaseCluster5B53A178": {
            "Type": "AWS::RDS::DBCluster",
            "Properties": {"DBClusterIdentifier": "todo-prod-v2", "Engine": "aurora-postgresql"},
            "UpdateReplacePolicy": "Snapshot",
            "DeletionPolicy": "Snapshot",
        },
        "DatabaseClusterWriter2F4E8B3A": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {
                "DBClusterIdentifier": {"Ref": "DatabaseCluster5B53A178"},
                "DBInstanceClass": "db.serverless",
            },
            "UpdateReplacePolicy": "Delete",
            "DeletionPolicy": "Delete",
        },
        "DatabaseClusterReader17C9D0E6": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {
                "DBClusterIdentifier": {"Ref": "DatabaseCluster5B53A178"},
                "DBInstanceClass": "db.serverless",
            },
            "UpdateReplacePolicy": "Delete",
            "DeletionPolicy": "Delete",
        },
    }
}


def test_an_aurora_rename_replaces_the_cluster_after_a_snapshot_and_its_instances() -> None:
    verdict = read([("aurora_rename", None)], "todo-prod-stateful")

    assert stateful_consequences(verdict, proposed=AURORA_TEMPLATE) == [
        StatefulConsequence(
            logical_id="DatabaseCluster5B53A178",
            resource_type="AWS::RDS::DBCluster",
            event="replaced",
            policy="UpdateReplacePolicy Snapshot",
            consequence="snapshot taken, then a new EMPTY one",
        ),
        StatefulConsequence(
            logical_id="DatabaseClusterWriter2F4E8B3A",
            resource_type="AWS::RDS::DBInstance",
            event="replaced",
            policy="UpdateReplacePolicy Delete",
            consequence="no data of its own: its DB cluster holds it",
        ),
        StatefulConsequence(
            logical_id="DatabaseClusterReader17C9D0E6",
            resource_type="AWS::RDS::DBInstance",
            event="replaced",
            policy="UpdateReplacePolicy Delete",
            consequence="no data of its own: its DB cluster holds it",
        ),
    ]
    lines = render_markdown([verdict], proposed={"todo-prod-stateful": AURORA_TEMPLATE})
    assert lines.splitlines()[4:] == [
        "From CloudFormation's change set `PipelineChange`: 3 replaced, 2 modified.",
        "",
        "| Resource | Type | Action | Replacement | Caused by |",
        "| --- | --- | --- | --- | --- |",
        "| **`DatabaseCluster5B53A178`** | AWS::RDS::DBCluster | Modify | True | "
        "`DBClusterIdentifier` (Always) |",
        "| **`DatabaseClusterWriter2F4E8B3A`** | AWS::RDS::DBInstance | Modify | True | "
        "`DBClusterIdentifier` (Always, via `DatabaseCluster5B53A178`) |",
        "| **`DatabaseClusterReader17C9D0E6`** | AWS::RDS::DBInstance | Modify | True | "
        "`DBClusterIdentifier` (Always, via `DatabaseCluster5B53A178`) |",
        "| `DatabaseSecretAttachment6C1A9E44` | AWS::SecretsManager::SecretTargetAttachment | "
        "Modify | False | `TargetId` (via `DatabaseCluster5B53A178`) |",
        "| `DatabaseProxyTargetGroup0E2B7C5D` | AWS::RDS::DBProxyTargetGroup | Modify | False | "
        "`DBClusterIdentifiers` (via `DatabaseCluster5B53A178`) |",
        "",
        "- **`DatabaseCluster5B53A178` (AWS::RDS::DBCluster) replaced: snapshot taken, then a new "
        "EMPTY one (UpdateReplacePolicy Snapshot).**",
        "- **`DatabaseClusterWriter2F4E8B3A` (AWS::RDS::DBInstance) replaced: no data of its own: "
        "its DB cluster holds it (UpdateReplacePolicy Delete).**",
        "- **`DatabaseClusterReader17C9D0E6` (AWS::RDS::DBInstance) replaced: no data of its own: "
        "its DB cluster holds it (UpdateReplacePolicy Delete).**",
    ]


# The app stack after the change: the replaced resources are in it, the removed ones are not.
POLICIES_PROPOSED: dict[str, Any] = {
    "Resources": {
        "UploadsBucket1A2B3C4D": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": "todo-staging-uploads-v2"},
            "UpdateReplacePolicy": "Retain",
            "DeletionPolicy": "RetainExceptOnCreate",
        },
        "JobsQueue5E6F7A8B": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": "todo-staging-jobs-v2"},
        },
        "SessionsTable9C0D1E2F": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {"KeySchema": [{"AttributeName": {"Ref": "SessionKey"}}]},
            # DynamoDB has no CloudFormation snapshot: CloudFormation deletes the old table.
            "UpdateReplacePolicy": "Snapshot",
        },
        "ExportsQueueF5A6B7C8": {"Type": "AWS::SQS::Queue"},
    }
}
# The deployed stack: its DeletionPolicy decides what a removal does.
POLICIES_DEPLOYED: dict[str, Any] = {
    "Resources": {
        "ReportsDatabase3A4B5C6D": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {"Engine": "postgres", "DBInstanceClass": "db.t4g.micro"},
        },
        "ArchiveCluster7E8F9A0B": {
            "Type": "AWS::RDS::DBCluster",
            "Properties": {"Engine": "aurora-postgresql"},
            "DeletionPolicy": "Delete",
        },
        "AuditLogGroupB1C2D3E4": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "RetainExceptOnCreate",
        },
    }
}


def test_retain_snapshot_delete_and_the_defaults_each_say_what_happens_to_the_data() -> None:
    verdict = read([("policies", None)], "todo-staging-stateless")

    consequences = stateful_consequences(
        verdict, proposed=POLICIES_PROPOSED, deployed=POLICIES_DEPLOYED
    )

    assert [(c.logical_id, c.event, c.policy, c.consequence) for c in consequences] == [
        (
            "UploadsBucket1A2B3C4D",
            "replaced",
            "UpdateReplacePolicy Retain",
            "old one retained, a new EMPTY one is created",
        ),
        (
            "JobsQueue5E6F7A8B",
            "replaced",
            "no UpdateReplacePolicy: Delete by default",
            "deleted and replaced by an EMPTY one",
        ),
        (
            "SessionsTable9C0D1E2F",
            "may be replaced",
            "UpdateReplacePolicy Snapshot",
            "deleted and replaced by an EMPTY one",
        ),
        (
            "ReportsDatabase3A4B5C6D",
            "removed",
            "no DeletionPolicy: Snapshot by default",
            "snapshot taken, then deleted",
        ),
        ("ArchiveCluster7E8F9A0B", "removed", "DeletionPolicy Delete", "deleted"),
        (
            "AuditLogGroupB1C2D3E4",
            "removed",
            "DeletionPolicy RetainExceptOnCreate",
            "retained, outside the stack",
        ),
    ]


def test_a_db_cluster_without_a_deletion_policy_is_snapshotted_when_removed() -> None:
    verdict = read([("policies", None)], "todo-staging-stateless")
    deployed = {
        "Resources": {"ArchiveCluster7E8F9A0B": {"Type": "AWS::RDS::DBCluster", "Properties": {}}}
    }

    archive = [
        c
        for c in stateful_consequences(verdict, proposed=POLICIES_PROPOSED, deployed=deployed)
        if c.logical_id == "ArchiveCluster7E8F9A0B"
    ]

    assert [(c.policy, c.consequence) for c in archive] == [
        ("no DeletionPolicy: Snapshot by default", "snapshot taken, then deleted")
    ]


def test_a_removal_whose_deployed_template_is_unknown_says_so() -> None:
    verdict = read([("policies", None)], "todo-staging-stateless")

    removals = [
        (c.logical_id, c.policy, c.consequence)
        for c in stateful_consequences(verdict, proposed=POLICIES_PROPOSED)
        if c.event == "removed"
    ]

    assert removals[0] == (
        "ReportsDatabase3A4B5C6D",
        "DeletionPolicy unknown (the deployed template was not read)",
        "deleted unless its deployed DeletionPolicy retains it",
    )


def test_the_change_sets_own_policy_action_wins_over_the_template() -> None:
    verdict = ChangeSetVerdict(
        stack_name="todo-prod-stateful",
        change_set_name="PipelineChange",
        outcome="changes",
        resources=(
            ResourceVerdict(
                logical_id="DatabaseCluster5B53A178",
                resource_type="AWS::RDS::DBCluster",
                action="Modify",
                replacement="True",
                policy_action="ReplaceAndRetain",
            ),
        ),
    )

    (consequence,) = stateful_consequences(verdict, proposed=AURORA_TEMPLATE)

    assert (consequence.policy, consequence.consequence) == (
        "change set PolicyAction ReplaceAndRetain",
        "old one retained, a new EMPTY one is created",
    )


def test_removed_and_replaced_stateful_resources_are_bold_with_their_consequence() -> None:
    verdict = read([("policies", None)], "todo-staging-stateless")

    text = render_markdown(
        [verdict],
        proposed={"todo-staging-stateless": POLICIES_PROPOSED},
        deployed={"todo-staging-stateless": POLICIES_DEPLOYED},
    )

    lines = text.splitlines()
    assert lines[4] == (
        "From CloudFormation's change set `PipelineChange`: 2 replaced, 1 may be replaced, "
        "1 added, 3 removed."
    )
    assert "| **`ReportsDatabase3A4B5C6D`** | AWS::RDS::DBInstance | Remove | — | — |" in lines
    assert "| `ExportsQueueF5A6B7C8` | AWS::SQS::Queue | Add | — | — |" in lines
    assert (
        "| **`SessionsTable9C0D1E2F`** | AWS::DynamoDB::Table | Modify | Conditional | "
        "`KeySchema` (Conditionally, via parameter `SessionKey`) |"
    ) in lines
    assert lines[-6:] == [
        "- **`UploadsBucket1A2B3C4D` (AWS::S3::Bucket) replaced: old one retained, a new EMPTY one "
        "is created (UpdateReplacePolicy Retain).**",
        "- **`JobsQueue5E6F7A8B` (AWS::SQS::Queue) replaced: deleted and replaced by an EMPTY one "
        "(no UpdateReplacePolicy: Delete by default).**",
        "- **`SessionsTable9C0D1E2F` (AWS::DynamoDB::Table) may be replaced: deleted and replaced "
        "by an EMPTY one (UpdateReplacePolicy Snapshot).**",
        "- **`ReportsDatabase3A4B5C6D` (AWS::RDS::DBInstance) removed: snapshot taken, then "
        "deleted (no DeletionPolicy: Snapshot by default).**",
        "- **`ArchiveCluster7E8F9A0B` (AWS::RDS::DBCluster) removed: deleted (DeletionPolicy "
        "Delete).**",
        "- **`AuditLogGroupB1C2D3E4` (AWS::Logs::LogGroup) removed: retained, outside the stack "
        "(DeletionPolicy RetainExceptOnCreate).**",
    ]


def test_an_empty_change_set_means_no_changes_not_an_error() -> None:
    verdict = read([("empty", None)], "todo-staging-edge")

    assert verdict == ChangeSetVerdict(
        stack_name="todo-staging-edge",
        change_set_name="PipelineChange",
        outcome="no changes",
        execution_status="UNAVAILABLE",
    )
    assert render_markdown([verdict]).splitlines()[2:] == [
        "### `todo-staging-edge`",
        "",
        "From CloudFormation's change set `PipelineChange`: no changes.",
    ]


def test_no_updates_to_be_performed_is_no_changes_too() -> None:
    response = recorded("empty") | {"StatusReason": "No updates are to be performed."}
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_change_set", response, request("todo-staging-edge"))
        verdict = read_change_set(cloudformation, stack_name="todo-staging-edge")

    assert verdict.outcome == "no changes"


def test_any_other_failure_is_its_reason_in_one_line() -> None:
    verdict = read([("failed", None)], "todo-staging-stateless")

    assert (verdict.outcome, verdict.reason) == (
        "failed",
        "No export named todo-staging-stateful:ExportsOutputRefDatabaseProxy5E3B1F08 found.",
    )
    assert render_markdown([verdict]).splitlines()[4] == (
        "From CloudFormation's change set `PipelineChange`: failed: No export named "
        "todo-staging-stateful:ExportsOutputRefDatabaseProxy5E3B1F08 found."
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ChangeSetNotFound", "ChangeSet [PipelineChange] does not exist"),
        ("ValidationError", "Stack [todo-staging-stateless] does not exist"),
    ],
)
def test_a_missing_change_set_or_stack_is_no_change_set(code: str, message: str) -> None:
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    with Stubber(cloudformation) as stub:
        stub.add_client_error(
            "describe_change_set",
            code,
            message,
            404,
            expected_params=request("todo-staging-stateless"),
        )
        verdict = read_change_set(cloudformation, stack_name="todo-staging-stateless")

    assert verdict == ChangeSetVerdict(
        stack_name="todo-staging-stateless",
        change_set_name="PipelineChange",
        outcome="no change set",
    )
    assert render_markdown([verdict]).splitlines()[4] == (
        "No change set waiting: the stage has not prepared this stack yet (it waits for the "
        "stacks it reads from), or its change set has executed."
    )


def test_a_refused_call_is_one_line_not_a_traceback() -> None:
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    with Stubber(cloudformation) as stub:
        stub.add_client_error("describe_change_set", "AccessDenied", "not authorized", 403)
        with pytest.raises(ChangeSetError) as raised:
            read_change_set(cloudformation, stack_name="todo-prod-stateful")

    assert str(raised.value) == (
        "todo-prod-stateful: DescribeChangeSet PipelineChange: An error occurred (AccessDenied) "
        "when calling the DescribeChangeSet operation: not authorized"
    )


def test_a_change_set_still_being_created_is_polled_until_complete() -> None:
    clock = FakeClock()

    verdict = read(
        [("pending", None), ("pending", None), ("aurora_rename", None)],
        "todo-prod-stateful",
        timeout=60,
        poll_seconds=5,
        clock=clock,
        sleep=clock.sleep,
    )

    assert clock.sleeps == [5, 5]
    assert verdict.outcome == "changes"
    assert len(verdict.resources) == 5


def test_a_change_set_pending_past_the_timeout_is_reported_as_pending() -> None:
    clock = FakeClock()

    verdict = read(
        [("pending", None)] * 4,
        "todo-prod-stateful",
        timeout=15,
        poll_seconds=5,
        clock=clock,
        sleep=clock.sleep,
    )

    assert clock.sleeps == [5, 5, 5]
    assert (verdict.outcome, verdict.reason) == ("pending", "still CREATE_IN_PROGRESS after 15 s")
    assert render_markdown([verdict]).splitlines()[4] == (
        "From CloudFormation's change set `PipelineChange`: not ready: "
        "still CREATE_IN_PROGRESS after 15 s."
    )


def write_assembly(root: Path, templates: dict[str, dict[str, Any]]) -> Path:
    """A cloud assembly as `cdk synth` writes one stage's: a manifest and a template per stack."""
    root.mkdir()
    artifacts = {}
    for name, template in templates.items():
        (root / f"{name}.template.json").write_text(json.dumps(template), "utf-8")
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://333333333333/eu-west-1",
            "properties": {"templateFile": f"{name}.template.json", "stackName": name},
            "displayName": f"Pipeline/prod/{name}",
        }
    (root / "manifest.json").write_text(json.dumps({"artifacts": artifacts}), "utf-8")
    return root


class StubbedSession:
    """What aws_session returns, handing out one stubbed client and recording the regions."""

    def __init__(self, client: Any) -> None:
        self.cloudformation = client
        self.regions: list[str] = []

    def client(self, service: str, *, region_name: str) -> Any:
        assert service == "cloudformation"
        self.regions.append(region_name)
        return self.cloudformation


def test_the_command_writes_the_report_from_the_change_set_and_the_assembly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assembly = write_assembly(tmp_path / "cdk.out", {"todo-prod-stateful": AURORA_TEMPLATE})
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    session = StubbedSession(cloudformation)
    assumed: list[dict[str, Any]] = []

    def fake_session(**kwargs: Any) -> StubbedSession:
        assumed.append(kwargs)
        return session

    monkeypatch.setattr("ops.review.change_sets.aws_session", fake_session)
    out = tmp_path / "report.md"
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_change_set", recorded("aurora_rename"), request("todo-prod-stateful")
        )
        code = main(
            [
                "--stack=todo-prod-stateful",
                f"--template-dir={assembly}",
                "--region=us-east-1",
                "--role-arn=arn:aws:iam::333333333333:role/change-set-reader",
                f"--out={out}",
            ]
        )

    assert code == SUCCESS
    assert assumed == [
        {
            "region": "us-east-1",
            "role_arn": "arn:aws:iam::333333333333:role/change-set-reader",
            "session_name": "change-sets",
        }
    ]
    assert session.regions == ["eu-west-1"]  # the stack's own region, from the assembly
    text = out.read_text("utf-8")
    assert capsys.readouterr().out == text
    assert (
        "- **`DatabaseCluster5B53A178` (AWS::RDS::DBCluster) replaced: snapshot taken, then a new "
        "EMPTY one (UpdateReplacePolicy Snapshot).**"
    ) in text.splitlines()


def test_a_stack_the_assembly_does_not_have_is_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assembly = write_assembly(tmp_path / "cdk.out", {"todo-prod-stateful": AURORA_TEMPLATE})

    code = main(
        [
            "--stack=todo-prod-stateless",
            f"--template-dir={assembly}",
            "--region=eu-west-1",
            f"--out={tmp_path / 'report.md'}",
        ]
    )

    assert code == BAD_INPUT
    assert capsys.readouterr().err == f"change sets: no stack 'todo-prod-stateless' in {assembly}\n"
    assert not (tmp_path / "report.md").exists()


def test_a_refused_call_fails_the_command_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assembly = write_assembly(tmp_path / "cdk.out", {"todo-prod-stateful": AURORA_TEMPLATE})
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    monkeypatch.setattr(
        "ops.review.change_sets.aws_session", lambda **_: StubbedSession(cloudformation)
    )
    with Stubber(cloudformation) as stub:
        stub.add_client_error("describe_change_set", "AccessDenied", "not authorized", 403)
        code = main(
            [
                "--stack=todo-prod-stateful",
                f"--template-dir={assembly}",
                "--region=eu-west-1",
                f"--out={tmp_path / 'report.md'}",
            ]
        )

    assert code == FAILURE
    assert capsys.readouterr().err == (
        "change sets: todo-prod-stateful: DescribeChangeSet PipelineChange: An error occurred "
        "(AccessDenied) when calling the DescribeChangeSet operation: not authorized\n"
    )


def test_a_change_set_deleted_between_two_pages_is_no_change_set() -> None:
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_change_set", recorded("vpc_cidr_page1"), request("todo-staging-stateful")
        )
        stub.add_client_error(
            "describe_change_set",
            "ChangeSetNotFound",
            "ChangeSet [PipelineChange] does not exist",
            404,
            expected_params=request("todo-staging-stateful", VPC_TOKEN),
        )
        verdict = read_change_set(cloudformation, stack_name="todo-staging-stateful")

    assert (verdict.outcome, verdict.resources) == ("no change set", ())


@pytest.mark.parametrize(
    ("status", "warning"),
    [
        (
            "OBSOLETE",
            "CloudFormation marks this change set OBSOLETE: the stack changed after it was "
            "created, so it may not be what deploys.",
        ),
        ("EXECUTE_IN_PROGRESS", "CloudFormation is executing this change set already."),
    ],
)
def test_a_change_set_no_longer_waiting_is_read_with_a_warning(status: str, warning: str) -> None:
    response = recorded("aurora_rename") | {"ExecutionStatus": status}
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_change_set", response, request("todo-prod-stateful"))
        verdict = read_change_set(cloudformation, stack_name="todo-prod-stateful")

    assert len(verdict.resources) == 5
    assert render_markdown([verdict]).splitlines()[4:6] == [
        "From CloudFormation's change set `PipelineChange`: 3 replaced, 2 modified.",
        warning,
    ]


def test_an_environment_is_read_stack_by_stack_each_in_its_own_region(
    assembly: Assembly,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`make change-sets ENV=prod` on the synthesized assembly: every prod stack, the edge stack
    in us-east-1, one that has no change set yet reported as such."""
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    session = StubbedSession(cloudformation)
    monkeypatch.setattr("ops.review.change_sets.aws_session", lambda **_: session)
    stacks = [stack.name for stack in assembly.cloud.environment_stacks("prod")]
    with Stubber(cloudformation) as stub:
        for name in stacks:
            if name.endswith("-stateless"):
                stub.add_client_error(
                    "describe_change_set",
                    "ChangeSetNotFound",
                    "ChangeSet [PipelineChange] does not exist",
                )
            else:
                stub.add_response(
                    "describe_change_set", {**recorded("empty"), "StackName": name}, request(name)
                )
        code = main(
            ["--environment=prod", f"--template-dir={assembly.root}", f"--out={tmp_path / 'r.md'}"]
        )
    assert code == SUCCESS, capsys.readouterr().err
    assert sorted(session.regions) == ["eu-west-1", "us-east-1"]  # one client per region
    text = (tmp_path / "r.md").read_text("utf-8")
    assert text.splitlines() == [
        "## CloudFormation change sets",
        "",
        "### `todo-prod-stateful`",
        "",
        "From CloudFormation's change set `PipelineChange`: no changes.",
        "",
        "### `todo-prod-edge`",
        "",
        "From CloudFormation's change set `PipelineChange`: no changes.",
        "",
        "### `todo-prod-stateless`",
        "",
        f"{NO_CHANGE_SET_YET}.",
    ]


def test_an_unknown_environment_is_bad_input_naming_the_ones_there(
    assembly: Assembly, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["--environment=qa", f"--template-dir={assembly.root}", f"--out={tmp_path / 'r.md'}"]
    )
    assert code == BAD_INPUT
    assert capsys.readouterr().err == (
        f"change sets: no environment 'qa' in {assembly.root} (it has: dev, staging, prod)\n"
    )
    assert not (tmp_path / "r.md").exists()


def test_the_lookup_role_may_read_an_environments_change_sets(
    empty_world: World, assembly: Assembly, tmp_path: Path
) -> None:
    """`make change-sets ENV=staging LOOKUP_ROLE_ARN=...` in AWS, IAM enforced: the pipeline
    account's ChangeReport role assumes the environment's bootstrap lookup role (ReadOnlyAccess),
    which describes each stack's change set in the stack's own region."""
    staging = empty_world.stack_of("staging", "stateful")
    empty_world.client("cloudformation", staging).create_change_set(
        StackName=staging.name,
        ChangeSetName="PipelineChange",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}),
    )
    runner = StepRunner(empty_world, tmp_path)
    pipeline = empty_world.pipeline
    caller = empty_world.aws.assume_as_service(
        empty_world.role(pipeline, runner.steps["ChangeReport-staging"].role_id),
        session_name="change-sets",
        service="codebuild.amazonaws.com",
        region=pipeline.region,
    )
    out = tmp_path / "change-sets.md"
    command = [sys.executable, "-m", "ops.review.change_sets", "--environment=staging"]
    command += [f"--template-dir={assembly.root}", f"--out={out}"]
    command += [f"--role-arn={lookup_role_arn(staging.account, staging.region)}"]
    with empty_world.aws.running("change-sets") as decisions:
        completed = subprocess.run(
            command,
            cwd=ROOT,
            env={
                "PATH": os.environ["PATH"],
                "AWS_ENDPOINT_URL": empty_world.aws.endpoint,
                "AWS_EC2_METADATA_DISABLED": "true",
                **caller,
            },
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    assert completed.returncode == SUCCESS, completed.stderr
    assert [d for d in decisions if not d.allowed] == [], describe(decisions)
    described = {(d.action, d.resource.split(":")[3]) for d in decisions if d.allowed}
    assert ("cloudformation:DescribeChangeSet", "us-east-1") in described  # the edge stack
    lines = out.read_text("utf-8").splitlines()
    stateful = lines.index(f"### `{staging.name}`")
    assert lines[stateful + 2] == "From CloudFormation's change set `PipelineChange`: 1 added."
    assert "| `Topic` | AWS::SNS::Topic | Add | — | — |" in lines
    # The edge stack is asked in us-east-1, where no change set waits. (moto finds a change set
    # by its name alone, so the stateless stack, in the same region, is not asserted here: the
    # recorded responses above show what AWS answers for a stack without one.)
    edge = lines.index(f"### `{empty_world.stack_of('staging', 'edge').name}`")
    assert lines[edge + 2] == f"{NO_CHANGE_SET_YET}."
