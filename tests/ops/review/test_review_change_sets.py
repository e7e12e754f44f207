"""Review change sets for the approval: created as the stage's prepare action will, read,
deleted; and the rare stack that cannot have one yet, reported from the offline diff.

The AWS side is botocore's Stubber on real clients: each request is checked against the
service model and against the exact parameters given here, in order. The templates are the
session's real staging templates. (tests/pipeline/test_steps_in_aws.py runs the same flow as
the ChangeReport step, under its role, in moto with IAM enforced.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from config.cloud_assembly import SynthesizedStack
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


def _exists(aws: Stubbed, stack: SynthesizedStack) -> None:
    aws.read.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": stack.name,
                    "StackStatus": "UPDATE_COMPLETE",
                    "CreationTime": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                }
            ]
        },
        {"StackName": stack.name},
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


def _reviewed(aws: Stubbed, stack: SynthesizedStack, changes: list[dict[str, Any]]) -> None:
    """Upload, create, describe (one page), delete: what one stack's review asks, in order."""
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
    page: dict[str, Any] = {"ChangeSetName": NAME, "StackName": stack.name}
    if changes:
        page |= {"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE", "Changes": changes}
    else:
        page |= {
            "Status": "FAILED",
            "ExecutionStatus": "UNAVAILABLE",
            "StatusReason": "The submitted information didn't contain changes.",
        }
    aws.read.add_response(
        "describe_change_set",
        page,
        {"StackName": stack.name, "ChangeSetName": NAME, "IncludePropertyValues": False},
    )
    _deleted(aws, stack)


def _deleted(aws: Stubbed, stack: SynthesizedStack) -> None:
    aws.deploy.add_response(
        "delete_change_set", {}, {"StackName": stack.name, "ChangeSetName": NAME}
    )


def _review(aws: Stubbed, stacks: list[SynthesizedStack], **deployed: Any) -> list[StackReview]:
    templates = {stack.name: stack.template for stack in stacks}
    templates.update(deployed)
    return review_environment(
        stacks,
        execution_id=EXECUTION_ID,
        clients=lambda _stack: aws.clients,
        deployed=templates,
        sleep=lambda _seconds: None,
    )


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
            "its change set can exist only once they are deployed"
        ),
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

    (review,) = review_environment(
        staging[:1],
        execution_id=EXECUTION_ID,
        clients=lambda _stack: aws.clients,
        deployed={},
        warn=warnings.append,
    )

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
        f"it reads outputs that this deploy changes in `{stacks['stateful'].name}` "
        "(its own verdict is not known)"
    )


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
