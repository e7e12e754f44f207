"""Review change sets for the approval: created as the stage's prepare action will, read,
deleted; and the rare stack that cannot have one yet, reported from the offline diff.

The AWS side is botocore's Stubber on real clients: each request is checked against the
service model and against the exact parameters given here, in order. The templates are the
session's real staging templates. (tests/pipeline/test_steps_in_aws.py runs the same flow as
the ChangeReport step, under its role, in moto with IAM enforced.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from config.cloud_assembly import SynthesizedStack, codepipeline
from ops.review.change_sets import ChangeSetVerdict, ResourceVerdict
from ops.review.review_change_sets import (
    CAPABILITIES,
    Clients,
    ReviewError,
    StackReview,
    changed_outputs,
    outputs_read,
    review_change_set_name,
    review_environment,
)
from tests.support.assembly import Assembly

EXECUTION_ID = "3137f7cb-7cf7-4c9a-9a3e-d7eu3example"
NAME = f"Review-{EXECUTION_ID}"
CREDENTIALS: dict[str, Any] = {"aws_access_key_id": "x", "aws_secret_access_key": "x"}


@dataclass
class Stubbed:
    """One client per role, answered in order; what a stack's review asked is checked."""

    publish: Stubber
    deploy: Stubber
    read: Stubber
    clients: Clients


@pytest.fixture
def aws() -> Iterator[Stubbed]:
    publish = boto3.client("s3", region_name="eu-west-1", **CREDENTIALS)
    deploy = boto3.client("cloudformation", region_name="eu-west-1", **CREDENTIALS)
    read = boto3.client("cloudformation", region_name="eu-west-1", **CREDENTIALS)
    stubs = Stubbed(
        Stubber(publish),
        Stubber(deploy),
        Stubber(read),
        Clients(publish=publish, deploy=deploy, read=read),
    )
    with stubs.publish, stubs.deploy, stubs.read:
        yield stubs
        stubs.publish.assert_no_pending_responses()
        stubs.deploy.assert_no_pending_responses()
        stubs.read.assert_no_pending_responses()


@pytest.fixture(scope="module")
def staging(assembly: Assembly) -> list[SynthesizedStack]:
    """stateful, edge, stateless: the order the manifest lists them, dependencies first."""
    return assembly.cloud.environment_stacks("staging")


def _by_component(stacks: list[SynthesizedStack]) -> dict[str, SynthesizedStack]:
    return {stack.name.rsplit("-", 1)[1]: stack for stack in stacks}


LAST_UPDATED = dt.datetime(2026, 11, 30, 17, 5, 9, tzinfo=dt.UTC)


def _exists(aws: Stubbed, stack: SynthesizedStack, status: str = "UPDATE_COMPLETE") -> None:
    aws.read.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": stack.name,
                    "StackStatus": status,
                    "CreationTime": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                    "LastUpdatedTime": LAST_UPDATED,
                }
            ]
        },
        {"StackName": stack.name},
    )


def _no_earlier_attempt(aws: Stubbed, stack: SynthesizedStack) -> None:
    aws.read.add_client_error(
        "describe_change_set",
        service_error_code="ChangeSetNotFound",
        service_message=f"ChangeSet [{NAME}] does not exist",
        expected_params={
            "StackName": stack.name,
            "ChangeSetName": NAME,
            "IncludePropertyValues": False,
        },
    )


def _missing(aws: Stubbed, stack: SynthesizedStack) -> None:
    aws.read.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {stack.name} does not exist",
        expected_params={"StackName": stack.name},
    )


def _change(logical_id: str, resource_type: str, replacement: str) -> dict[str, Any]:
    return {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "Replacement": replacement,
            "Details": [],
        },
    }


def _reviewed(
    aws: Stubbed,
    stack: SynthesizedStack,
    changes: list[dict[str, Any]],
    *,
    earlier_attempt: bool = False,
) -> None:
    """Look for an earlier attempt's change set, upload, create, describe (one page), delete:
    what one stack's review asks, in order."""
    if not earlier_attempt:
        _no_earlier_attempt(aws, stack)
    _uploaded_and_created(aws, stack)
    aws.read.add_response(
        "describe_change_set",
        _page(stack, changes),
        {"StackName": stack.name, "ChangeSetName": NAME, "IncludePropertyValues": False},
    )
    _deleted(aws, stack)


def _page(stack: SynthesizedStack, changes: list[dict[str, Any]]) -> dict[str, Any]:
    page: dict[str, Any] = {"ChangeSetName": NAME, "StackName": stack.name}
    if changes:
        return page | {
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "Changes": changes,
        }
    return page | {
        "Status": "FAILED",
        "ExecutionStatus": "UNAVAILABLE",
        "StatusReason": "The submitted information didn't contain changes.",
    }


def _uploaded_and_created(aws: Stubbed, stack: SynthesizedStack) -> None:
    destination = stack.template_destination
    aws.publish.add_response(
        "put_object",
        {},
        {
            "Bucket": destination.bucket,
            "Key": destination.key,
            "Body": stack.template_file.read_bytes(),
            "ContentType": "application/json",
        },
    )
    aws.deploy.add_response(
        "create_change_set",
        {"Id": f"arn:aws:cloudformation:eu-west-1:333333333333:changeSet/{NAME}/1"},
        {
            "StackName": stack.name,
            "ChangeSetName": NAME,
            "ChangeSetType": "UPDATE",
            "TemplateURL": destination.url,
            "RoleARN": stack.execution_role_arn,
            "Capabilities": list(CAPABILITIES),
            "Description": ANY,
        },
    )


def _deleted(aws: Stubbed, stack: SynthesizedStack) -> None:
    aws.deploy.add_response(
        "delete_change_set", {}, {"StackName": stack.name, "ChangeSetName": NAME}
    )


def _review_alone(
    aws: Stubbed, stacks: list[SynthesizedStack], **options: Any
) -> list[StackReview]:
    """The review of ``stacks`` (by default with no deployed templates to compare outputs
    with), through the stubbed clients, never sleeping."""
    options = {"deployed": {}, "sleep": lambda _seconds: None, **options}
    return review_environment(
        stacks, execution_id=EXECUTION_ID, clients=lambda _stack: aws.clients, **options
    )


def _review(aws: Stubbed, stacks: list[SynthesizedStack], **deployed: Any) -> list[StackReview]:
    """The review with every stack deployed as this commit has it, unless ``deployed`` says."""
    templates = {stack.name: stack.template for stack in stacks}
    templates.update(deployed)
    return _review_alone(aws, stacks, deployed=templates)


def test_every_stack_is_reviewed_by_cloudformation_when_no_output_it_reads_changes(
    aws: Stubbed, staging: list[SynthesizedStack]
) -> None:
    """A commit that changes the API's task definition and a log group's retention: each
    stack's change set is created from its published template with its execution role,
    read and deleted; the stateless one too, as its inputs stay as deployed."""
    stacks = _by_component(staging)
    for stack in staging:
        _exists(aws, stack)
        changes = {
            "stateful": [_change("DatabaseLogs", "AWS::Logs::LogGroup", "False")],
            "edge": [],
            "stateless": [_change("ApiTaskDefinition", "AWS::ECS::TaskDefinition", "True")],
        }[stack.name.rsplit("-", 1)[1]]
        _reviewed(aws, stack, changes)

    reviews = _review(aws, staging)

    assert [(r.stack, r.verdict.outcome if r.verdict else None) for r in reviews] == [
        (stacks["stateful"].name, "changes"),
        (stacks["edge"].name, "no changes"),
        (stacks["stateless"].name, "changes"),
    ]
    (replaced,) = [c for c in reviews[2].verdict.resources if c.replaced]  # type: ignore[union-attr]
    assert replaced.logical_id == "ApiTaskDefinition"


def test_a_stack_that_reads_an_output_its_predecessor_replaces_is_reported_offline(
    aws: Stubbed, staging: list[SynthesizedStack]
) -> None:
    """The CIDR change: the stateful change set replaces the VPC and its subnets, whose ids the
    stateless stack reads. Its change set would resolve today's ids, so none is made."""
    stacks = _by_component(staging)
    _exists(aws, stacks["stateful"])
    _reviewed(
        aws,
        stacks["stateful"],
        [
            _change("NetworkVpc7FB7348F", "AWS::EC2::VPC", "True"),
            _change("NetworkVpcprivateSubnet1Subnet9EC58498", "AWS::EC2::Subnet", "True"),
            _change("NetworkVpcprivateSubnet2Subnet6E5E8804", "AWS::EC2::Subnet", "Conditional"),
        ],
    )
    _exists(aws, stacks["edge"])
    _reviewed(aws, stacks["edge"], [])
    _exists(aws, stacks["stateless"])

    reviews = _review(aws, staging)

    assert reviews[2] == StackReview(
        stack=stacks["stateless"].name,
        offline_reason=(
            f"it reads outputs that this deploy changes in `{stacks['stateful'].name}` "
            "(PublishOutputRefNetworkVpc7FB7348F2D3313D5, "
            "PublishOutputRefNetworkVpcprivateSubnet1Subnet9EC584988FB4910A, "
            "PublishOutputRefNetworkVpcprivateSubnet2Subnet6E5E880488A18691): "
            "a change set made now would resolve today's values"
        ),
        status="UPDATE_COMPLETE",
        last_updated=LAST_UPDATED,
    )


def test_an_output_new_to_the_deployed_stack_is_a_change_its_reader_waits_for(
    aws: Stubbed, staging: list[SynthesizedStack]
) -> None:
    stacks = _by_component(staging)
    stateful = stacks["stateful"]
    output = "PublishOutputRefWorkerQueueCC1CC3A2B2B65B05"
    older = {**stateful.template, "Outputs": dict(stateful.template["Outputs"])}
    del older["Outputs"][output]
    _exists(aws, stateful)
    _reviewed(aws, stateful, [])  # the new output alone: CloudFormation calls that no change
    _exists(aws, stacks["edge"])
    _reviewed(aws, stacks["edge"], [])
    _exists(aws, stacks["stateless"])

    reviews = _review(aws, staging, **{stateful.name: older})

    assert f"`{stateful.name}` ({output})" in reviews[2].offline_reason


def test_a_never_deployed_environment_gets_no_change_set(
    aws: Stubbed, staging: list[SynthesizedStack]
) -> None:
    """A change set for a missing stack would create it (REVIEW_IN_PROGRESS) before the
    approval; the deploy stage's prepare action creates it instead."""
    for stack in staging:
        _missing(aws, stack)

    reviews = _review(aws, staging)

    assert [r.offline_reason for r in reviews] == [
        "the stack does not exist yet: every resource is added"
    ] * 3


def test_a_change_set_that_cannot_be_read_is_still_deleted_and_the_stack_marked(
    aws: Stubbed, staging: list[SynthesizedStack]
) -> None:
    stateful = staging[0]
    _exists(aws, stateful)
    _no_earlier_attempt(aws, stateful)
    destination = stateful.template_destination
    aws.publish.add_response(
        "put_object",
        {},
        {
            "Bucket": destination.bucket,
            "Key": destination.key,
            "Body": ANY,
            "ContentType": "application/json",
        },
    )
    aws.deploy.add_response(
        "create_change_set", {"Id": "arn:aws:cloudformation:eu-west-1:1:changeSet/x/1"}
    )
    aws.read.add_client_error(
        "describe_change_set",
        service_error_code="AccessDenied",
        service_message="not authorized to perform: cloudformation:DescribeChangeSet",
    )
    _deleted(aws, stateful)
    warnings: list[str] = []

    (review,) = _review_alone(aws, staging[:1], warn=warnings.append)

    assert review.verdict is None
    assert review.offline_reason.startswith(
        f"CloudFormation's change set could not be made: {stateful.name}: DescribeChangeSet "
        f"{NAME}: "
    )
    assert "not authorized to perform: cloudformation:DescribeChangeSet" in review.offline_reason
    refusal = review.offline_reason.removeprefix("CloudFormation's change set could not be made: ")
    assert warnings == [f"{stateful.name}: no review change set: {refusal}"]


def test_a_refused_change_set_marks_the_stack_and_the_next_one_in_one_line(
    aws: Stubbed, staging: list[SynthesizedStack]
) -> None:
    """A refusal does not fail the report (it runs in the previous environment's stage, which
    a failure would roll back); the stack and the stack reading its outputs say why."""
    stacks = _by_component(staging)
    _exists(aws, stacks["stateful"])
    _no_earlier_attempt(aws, stacks["stateful"])
    aws.publish.add_response("put_object", {})
    aws.deploy.add_client_error(
        "create_change_set",
        service_error_code="ValidationError",
        service_message="Stack:todo-staging-stateful is in UPDATE_IN_PROGRESS state",
    )
    _exists(aws, stacks["edge"])
    _reviewed(aws, stacks["edge"], [])
    _exists(aws, stacks["stateless"])

    reviews = _review(aws, staging)

    assert reviews[0].offline_reason == (
        "CloudFormation's change set could not be made: "
        f"{stacks['stateful'].name}: review change set {NAME}: An error occurred "
        "(ValidationError) when calling the CreateChangeSet operation: "
        "Stack:todo-staging-stateful is in UPDATE_IN_PROGRESS state"
    )
    assert reviews[2].offline_reason.startswith(
        f"it reads outputs that this deploy may change in `{stacks['stateful'].name}` "
        "(its own change set was not read)"
    )


def test_a_retried_build_deletes_its_earlier_attempts_change_set_first(
    aws: Stubbed, staging: list[SynthesizedStack]
) -> None:
    """A build stopped between CreateChangeSet and its clean-up leaves Review-<id>; its
    retry has the same execution id, and CreateChangeSet refuses a name in use. The leftover,
    still being created, is waited for (CloudFormation deletes only a settled change set)."""
    stateful = staging[0]
    _exists(aws, stateful)
    expected = {"StackName": stateful.name, "ChangeSetName": NAME, "IncludePropertyValues": False}
    pending = {"ChangeSetName": NAME, "StackName": stateful.name, "Status": "CREATE_IN_PROGRESS"}
    aws.read.add_response("describe_change_set", pending, expected)
    aws.read.add_response("describe_change_set", _page(stateful, []), expected)
    _deleted(aws, stateful)  # the leftover
    _reviewed(
        aws,
        stateful,
        [_change("DatabaseLogs", "AWS::Logs::LogGroup", "False")],
        earlier_attempt=True,
    )
    warnings: list[str] = []

    (review,) = _review_alone(aws, staging[:1], warn=warnings.append)

    assert review.verdict is not None
    assert [c.logical_id for c in review.verdict.resources] == ["DatabaseLogs"]
    assert warnings == []


def test_a_change_set_that_cannot_be_deleted_keeps_its_verdict_and_is_named(
    aws: Stubbed, staging: list[SynthesizedStack]
) -> None:
    stateful = staging[0]
    _exists(aws, stateful)
    _no_earlier_attempt(aws, stateful)
    _uploaded_and_created(aws, stateful)
    aws.read.add_response(
        "describe_change_set",
        _page(stateful, [_change("DatabaseLogs", "AWS::Logs::LogGroup", "False")]),
    )
    aws.deploy.add_client_error(
        "delete_change_set",
        service_error_code="InvalidChangeSetStatus",
        service_message="ChangeSet is in an invalid status for this operation",
    )
    warnings: list[str] = []

    (review,) = _review_alone(aws, staging[:1], warn=warnings.append)

    assert review.verdict is not None and review.verdict.outcome == "changes"
    assert review.offline_reason == ""
    (warning,) = warnings
    assert warning.startswith(f"{stateful.name}: delete review change set {NAME}: ")
    assert warning.endswith(
        "ChangeSet is in an invalid status for this operation: delete it by hand"
    )


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("REVIEW_IN_PROGRESS", "the stack does not exist yet: every resource is added"),
        (
            "ROLLBACK_COMPLETE",
            "its creation failed (ROLLBACK_COMPLETE): CloudFormation cannot "
            "update it; once it is deleted the deploy creates it again, every resource added",
        ),
        (
            "UPDATE_ROLLBACK_FAILED",
            "an update's rollback failed (UPDATE_ROLLBACK_FAILED): CloudFormation updates it "
            "only once the rollback is continued (ContinueUpdateRollback)",
        ),
        (
            "UPDATE_IN_PROGRESS",
            "the stack is changing now (UPDATE_IN_PROGRESS), most likely "
            "deployed by an earlier execution: a change set made now would compare with a stack "
            "about to change",
        ),
        (
            "DELETE_IN_PROGRESS",
            "the stack is changing now (DELETE_IN_PROGRESS), most likely "
            "deployed by an earlier execution: a change set made now would compare with a stack "
            "about to change",
        ),
    ],
)
def test_a_stack_that_cannot_take_a_true_change_set_now_gets_none_and_says_why(
    aws: Stubbed, staging: list[SynthesizedStack], status: str, reason: str
) -> None:
    stateful = staging[0]
    _exists(aws, stateful, status=status)

    (review,) = _review_alone(aws, staging[:1])

    assert (review.verdict, review.offline_reason, review.status) == (None, reason, status)


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (
            {
                "Status": "FAILED",
                "StatusReason": "Template format error: Unresolved resource\n dependencies [Queue]",
            },
            "CloudFormation failed its change set: Template format error: Unresolved resource "
            "dependencies [Queue]",
        ),
        (
            {"Status": "CREATE_IN_PROGRESS"},
            "CloudFormation had not finished its change set (still CREATE_IN_PROGRESS after 0 s)",
        ),
    ],
)
def test_a_change_set_without_a_verdict_is_reported_offline_with_cloudformations_words(
    aws: Stubbed, staging: list[SynthesizedStack], page: dict[str, Any], reason: str
) -> None:
    stateful = staging[0]
    _exists(aws, stateful)
    _no_earlier_attempt(aws, stateful)
    _uploaded_and_created(aws, stateful)
    aws.read.add_response("describe_change_set", {"ChangeSetName": NAME, **page})
    _deleted(aws, stateful)

    (review,) = _review_alone(aws, staging[:1], timeout=0)

    assert (review.verdict, review.offline_reason) == (None, reason)


def test_a_name_already_in_use_marks_the_stack_with_cloudformations_refusal(
    aws: Stubbed, staging: list[SynthesizedStack]
) -> None:
    """Two builds of one execution at once (a retry racing the first): the second is refused."""
    stateful = staging[0]
    _exists(aws, stateful)
    _no_earlier_attempt(aws, stateful)
    aws.publish.add_response("put_object", {})
    aws.deploy.add_client_error(
        "create_change_set",
        service_error_code="AlreadyExistsException",
        service_message=f"ChangeSet {NAME} already exists",
    )

    (review,) = _review_alone(aws, staging[:1])

    assert review.verdict is None
    assert review.offline_reason.endswith(f"ChangeSet {NAME} already exists")


def test_a_stack_whose_asset_manifest_lacks_its_template_is_marked_not_fatal(
    aws: Stubbed, staging: list[SynthesizedStack], tmp_path: Any
) -> None:
    """Any failure in one stack's review marks that stack; the next stacks are still reviewed."""
    broken = dataclasses.replace(staging[0], directory=tmp_path)
    (tmp_path / f"{broken.artifact_id}.assets.json").write_text('{"files": {}}')
    _exists(aws, broken)
    _no_earlier_attempt(aws, broken)
    edge = staging[1]
    _exists(aws, edge)
    _reviewed(aws, edge, [])
    warnings: list[str] = []

    first, second = _review_alone(aws, [broken, edge], warn=warnings.append)

    assert first.offline_reason == (
        "CloudFormation's change set could not be made: "
        f"'{broken.name}: its asset manifest does not list the template'"
    )
    assert second.verdict is not None and second.verdict.outcome == "no changes"
    assert len(warnings) == 1


def test_the_review_passes_the_capabilities_the_stage_prepare_actions_pass(
    assembly: Assembly,
) -> None:
    """The review must be the change set the approval lets execute: same capabilities."""
    pipeline = codepipeline(assembly.cloud.pipeline_stack().template)
    assert pipeline is not None
    prepares = [
        action["Configuration"]
        for stage in pipeline["Stages"]
        for action in stage["Actions"]
        if action["ActionTypeId"]["Provider"] == "CloudFormation"
        and action["Configuration"].get("ActionMode") == "CHANGE_SET_REPLACE"
    ]
    assert prepares
    assert {prepare["Capabilities"] for prepare in prepares} == {",".join(CAPABILITIES)}


@pytest.mark.parametrize(
    ("execution_id", "name"),
    [("0a1b-2c", "Review-0a1b-2c"), ("local", "Review-local")],
)
def test_the_change_set_is_named_after_the_execution(execution_id: str, name: str) -> None:
    assert review_change_set_name(execution_id) == name


@pytest.mark.parametrize("execution_id", ["a_b", "a b", "x" * 122])
def test_an_execution_id_that_cannot_name_a_change_set_is_refused(execution_id: str) -> None:
    with pytest.raises(ReviewError, match="cannot name a change set"):
        review_change_set_name(execution_id)


def test_exports_are_followed_to_the_output_that_declares_them() -> None:
    producer = {"Outputs": {"Bus": {"Value": {"Ref": "Bus"}, "Export": {"Name": "bus-arn"}}}}
    consumer = {
        "Resources": {
            "Rule": {"Properties": {"Bus": {"Fn::ImportValue": "bus-arn"}}},
            "Other": {"Properties": {"Bus": {"Fn::ImportValue": "someone-elses"}}},
        }
    }
    assert outputs_read(consumer, {"producer": producer}) == {"producer/Bus"}


def test_an_output_changes_with_its_expression_or_a_replaced_resource_it_names() -> None:
    deployed = {
        "Outputs": {
            "Same": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
            "Rewritten": {"Value": {"Ref": "Queue"}},
            "ViaSub": {"Value": {"Fn::Sub": "${Table.Arn}/index"}},
        }
    }
    proposed = {
        "Outputs": {
            "Same": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
            "Rewritten": {"Value": {"Fn::GetAtt": ["Queue", "QueueName"]}},
            "ViaSub": {"Value": {"Fn::Sub": "${Table.Arn}/index"}},
            "New": {"Value": "x"},
        }
    }
    verdict = ChangeSetVerdict(
        stack_name="s",
        change_set_name=NAME,
        outcome="changes",
        resources=(
            ResourceVerdict(
                logical_id="Table",
                resource_type="AWS::DynamoDB::Table",
                action="Modify",
                replacement="True",
            ),
            ResourceVerdict(
                logical_id="Queue",
                resource_type="AWS::SQS::Queue",
                action="Modify",
                replacement="False",
            ),
        ),
    )
    assert changed_outputs(deployed=deployed, proposed=proposed, verdict=verdict) == {
        "Rewritten",
        "ViaSub",
        "New",
    }
