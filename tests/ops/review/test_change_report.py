"""The change report compares deployed templates with this commit's, per environment."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops.review.change_report import (
    NONE_REVIEWED,
    NOT_REVIEWED,
    REVIEWED,
    build_report,
    deployed_template,
)
from ops.review.change_sets import Cause, ChangeSetVerdict, ResourceVerdict
from ops.review.review_change_sets import StackReview
from tests.support.assembly import Assembly

FAKE_CREDENTIALS: dict[str, Any] = {
    "region_name": "eu-west-1",
    "aws_access_key_id": "x",
    "aws_secret_access_key": "x",
}


def test_deployed_template_is_read_from_cloudformation() -> None:
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "get_template",
            {"TemplateBody": '{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}'},
            {"StackName": "todo-dev-stateful", "TemplateStage": "Original"},
        )
        assert deployed_template(cloudformation, "todo-dev-stateful") == {
            "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}
        }


def test_a_stack_that_does_not_exist_yet_has_no_deployed_template() -> None:
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    with Stubber(cloudformation) as stub:
        stub.add_client_error(
            "get_template", "ValidationError", "Stack with id todo-dev-new does not exist"
        )
        assert deployed_template(cloudformation, "todo-dev-new") is None


def test_other_cloudformation_errors_are_not_hidden() -> None:
    cloudformation = boto3.client("cloudformation", **FAKE_CREDENTIALS)
    with Stubber(cloudformation) as stub:
        stub.add_client_error("get_template", "AccessDenied", "not allowed")
        with pytest.raises(Exception, match="AccessDenied"):
            deployed_template(cloudformation, "todo-dev-stateful")


def test_report_on_the_real_network_stack(assembly: Assembly) -> None:
    proposed = {"todo-prod-stateful": assembly.template("todo-prod-stateful")}
    deployed = copy.deepcopy(proposed)
    nat_ids = [
        logical_id
        for logical_id, resource in deployed["todo-prod-stateful"]["Resources"].items()
        if resource["Type"] == "AWS::EC2::NatGateway"
    ]
    del deployed["todo-prod-stateful"]["Resources"][nat_ids[0]]  # prod had one NAT fewer

    text, broadened = build_report(
        environment="prod", deployed=deployed, proposed=proposed, commit="0123456789abcdef"
    )

    assert text.startswith("# Change report: prod at 0123456789ab\n")
    assert "### prod: 1 added" in text
    assert f"added `{nat_ids[0]}` (AWS::EC2::NatGateway)" in text
    assert "No permission is broadened." in text
    assert broadened == {"todo-prod-stateful": []}


def test_report_for_a_first_deployment_lists_every_stack_as_added(assembly: Assembly) -> None:
    proposed = {"todo-dev-stateful": assembly.template("todo-dev-stateful")}
    text, broadened = build_report(environment="dev", deployed={}, proposed=proposed, commit="abc")
    assert "- stack `todo-dev-stateful` added" in text
    assert broadened["todo-dev-stateful"], "a new stack's roles and key policies are all new grants"
    assert "**Permissions are broadened:**" in text


def test_publish_stores_the_report_and_announces_its_link() -> None:
    from ops.review.change_report import publish  # noqa: PLC0415

    s3 = boto3.client("s3", **FAKE_CREDENTIALS)
    sns = boto3.client("sns", **FAKE_CREDENTIALS)

    class Session:
        def client(self, name: str) -> Any:
            return {"s3": s3, "sns": sns}[name]

    text = (
        "# Change report: prod at abc\n### prod: 1 replaced\n"
        "**Stateful resources would be replaced**\n- x"
    )
    with Stubber(s3) as s3_stub, Stubber(sns) as sns_stub:
        s3_stub.add_response(
            "put_object",
            {},
            {
                "Bucket": "artifacts",
                "Key": "reports/e1/prod.md",
                "Body": text.encode(),
                "ContentType": "text/markdown",
            },
        )
        sns_stub.add_response(
            "publish",
            {"MessageId": "1"},
            {
                "TopicArn": "arn:aws:sns:eu-west-1:111111111111:todo-delivery",
                "Subject": "Approval waiting: deploy to prod",
                "Message": "### prod: 1 replaced\n**Stateful resources would be replaced**\n\n"
                "Full change report: https://console/report",
            },
        )
        publish(
            session=Session(),
            text=text,
            environment="prod",
            upload="s3://artifacts/reports/e1/prod.md",
            topic_arn="arn:aws:sns:eu-west-1:111111111111:todo-delivery",
            review_url="https://console/report",
        )
        s3_stub.assert_no_pending_responses()
        sns_stub.assert_no_pending_responses()


def test_the_report_lists_each_migration_with_its_class(assembly: Assembly) -> None:
    from ops.review.migrations import all_migrations, classify  # noqa: PLC0415

    proposed = {"todo-dev-stateful": assembly.template("todo-dev-stateful")}
    fixtures = Path(__file__).resolve().parent / "fixtures" / "migrations"
    shipped = all_migrations()
    text, _ = build_report(
        environment="dev", deployed=proposed, proposed=proposed, commit="abc", migrations=shipped
    )
    section = text.split("## Database migrations\n", 1)[1]
    assert "| `0001` (r0001_create_todos.py) | expand |" in section
    assert "| `0002` (r0002_outbox_activity.py) | expand |" in section
    assert "Every migration only expands" in section

    with_drop = [*shipped, classify(fixtures / "drop_column.migration")]
    text, _ = build_report(
        environment="dev", deployed=proposed, proposed=proposed, commit="abc", migrations=with_drop
    )
    assert "| `0005` (drop_column.migration) | destructive |" in text
    assert "**Destructive migrations: `0005`: the previous release may fail on them.**" in text


def test_the_approver_reads_cloudformations_verdict_first_and_what_is_offline_marked(
    assembly: Assembly,
) -> None:
    """The report leads with each stack's review change set; a stack without one says why
    and that its lines come from the offline diff below."""
    proposed = assembly.cloud.templates("staging")
    stateful, edge, stateless = proposed
    cluster = next(
        logical_id
        for logical_id, resource in proposed[stateful]["Resources"].items()
        if resource["Type"] == "AWS::RDS::DBCluster"
    )
    replaced = ResourceVerdict(
        logical_id=cluster,
        resource_type="AWS::RDS::DBCluster",
        action="Modify",
        replacement="True",
        causes=(
            Cause(attribute="Properties", name="DBClusterIdentifier", requires_recreation="Always"),
        ),
    )
    reviews = [
        StackReview(
            stack=stateful,
            verdict=ChangeSetVerdict(
                stack_name=stateful,
                change_set_name="Review-1",
                outcome="changes",
                resources=(replaced,),
            ),
        ),
        StackReview(
            stack=edge,
            verdict=ChangeSetVerdict(
                stack_name=edge, change_set_name="Review-1", outcome="no changes"
            ),
            status="UPDATE_COMPLETE",
            last_updated=dt.datetime(
                2026, 11, 30, 18, 5, 9, tzinfo=dt.timezone(dt.timedelta(hours=1))
            ),
        ),
        StackReview(stack=stateless, offline_reason="it reads outputs that this deploy changes"),
    ]
    text, _ = build_report(
        environment="staging",
        deployed=proposed,
        proposed=proposed,
        commit="abc",
        reviews=reviews,
    )
    lines = text.splitlines()
    assert lines.index("## CloudFormation change sets") < lines.index("## Offline diff")
    assert (
        f"| **`{cluster}`** | AWS::RDS::DBCluster | Modify | True | "
        "`DBClusterIdentifier` (Always) |"
    ) in lines
    assert any(
        line.startswith(
            f"- **`{cluster}` (AWS::RDS::DBCluster) replaced: snapshot taken, then a new EMPTY one"
        )
        for line in lines
    ), text
    assert REVIEWED in lines
    # The approver can tell whether the stack was deployed again after its change set was made.
    (edge_line,) = [i for i, line in enumerate(lines) if line == f"### `{edge}`"]
    assert lines[edge_line + 2 : edge_line + 4] == [
        "From CloudFormation's change set `Review-1`: no changes.",
        "Compared with the stack as last deployed at 2026-11-30 17:05:09 UTC (UPDATE_COMPLETE).",
    ]
    assert "**From the offline diff** (below): it reads outputs that this deploy changes." in lines


def test_when_no_stack_could_have_a_change_set_the_report_does_not_claim_one(
    assembly: Assembly,
) -> None:
    proposed = assembly.cloud.templates("staging")
    reviews = [
        StackReview(stack=name, offline_reason="the stack does not exist yet") for name in proposed
    ]
    text, _ = build_report(
        environment="staging", deployed={}, proposed=proposed, commit="abc", reviews=reviews
    )
    lines = text.splitlines()
    assert NONE_REVIEWED in lines
    assert REVIEWED not in lines


def test_without_an_execution_id_the_report_says_no_change_set_was_made(
    assembly: Assembly,
) -> None:
    proposed = assembly.cloud.templates("dev")
    text, _ = build_report(environment="dev", deployed={}, proposed=proposed, commit="abc")
    assert NOT_REVIEWED in text.splitlines()
