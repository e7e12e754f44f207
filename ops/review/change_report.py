"""Change report: what deploying this commit would change in one environment, before approval.

With ``--review-change-sets EXECUTION_ID`` (the pipeline passes its execution id), it first
asks CloudFormation itself: a change set per stack, created from this commit's template
against the deployed stack, read and deleted (ops/review/review_change_sets.py), so the
approver reads every resource's action, replacement and its cause as CloudFormation computes
them. Then it reads the templates CloudFormation has deployed (through the read-only CDK
bootstrap lookup role of that account), compares them with this commit's templates in cdk.out
and adds the offline diff: the summary, IAM and security-group tables, and every permission the
change would broaden. A stack without a change set is marked as reported from the offline diff.
The pipeline stores the report, links it from the approval and sends it to the environment's
notification topic.

    python -m ops.review.change_report --environment staging --assembly cdk.out --out report.md \
        [--role-arn LOOKUP_ROLE_ARN --review-change-sets EXECUTION_ID]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.paths import ASSEMBLY_DIR
from ops.common import (
    CommandError,
    aws_session,
    cloud_assembly_or_exit,
    cloudformation_clients,
    is_missing_stack,
    load_config_or_exit,
    write_atomically,
)
from ops.review import permissions
from ops.review.change_sets import render_stack
from ops.review.migrations import Migration, all_migrations, render_list
from ops.review.review_change_sets import Clients, StackReview, review_environment
from ops.review.template_diff import diff_environment, render_markdown

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_cloudformation import CloudFormationClient

    from config.cloud_assembly import SynthesizedStack


def deployed_template(
    cloudformation: CloudFormationClient, stack_name: str
) -> dict[str, Any] | None:
    """The template of the deployed stack, or None when the stack does not exist yet."""
    try:
        body = cloudformation.get_template(StackName=stack_name, TemplateStage="Original")[
            "TemplateBody"
        ]
    except ClientError as error:
        if is_missing_stack(error):
            return None
        raise
    # boto3 already decodes JSON bodies into a dict; YAML-deployed stacks come back as text.
    return body if isinstance(body, dict) else json.loads(str(body))


def build_report(
    *,
    environment: str,
    deployed: dict[str, dict[str, Any]],
    proposed: dict[str, dict[str, Any]],
    commit: str,
    locations: Mapping[str, permissions.Location] | None = None,
    required: Sequence[permissions.RequiredWildcard] = (),
    migrations: Sequence[Migration] = (),
    reviews: Sequence[StackReview] | None = None,
) -> tuple[str, dict[str, list[permissions.Grant]]]:
    """The Markdown report and the broadened grants per stack (for the exit decision)."""
    diff = diff_environment(environment, deployed, proposed)
    where = locations or {}
    broadened = {
        stack: permissions.broadened(deployed.get(stack, {}), template, where.get(stack))
        for stack, template in proposed.items()
    }
    text = "\n".join(
        [
            f"# Change report: {environment} at {commit[:12]}",
            "",
            *_change_sets_section(reviews, deployed=deployed, proposed=proposed),
            "## Offline diff",
            "",
            render_markdown([diff]).replace("## Template diff\n\n", ""),
            "## Permissions",
            "",
            permissions.render(broadened, required=required, locations=where),
            *_migrations_section(migrations),
        ]
    )
    return text, broadened


REVIEWED = (
    "Each change set below was created for this report from this commit's template against the "
    "stack as it stood at the time shown, read, then deleted; nothing was executed. After the "
    "approval the stage's prepare action creates its own from the same template: if the stack "
    "is deployed after the time shown (an earlier execution still on its way, say), compare "
    "its last update in the console with the time here."
)
NOT_REVIEWED = (
    "No change sets were created (no pipeline execution id): every verdict below is from the "
    "offline diff."
)
NONE_REVIEWED = (
    "No stack could have a change set now: every verdict below is from the offline diff."
)


def _change_sets_section(
    reviews: Sequence[StackReview] | None,
    *,
    deployed: Mapping[str, Mapping[str, Any]],
    proposed: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """CloudFormation's own verdict per stack, or why a stack is reported offline."""
    lines = ["## CloudFormation change sets", ""]
    if reviews is None:
        return [*lines, NOT_REVIEWED, ""]
    lines += [REVIEWED if any(r.verdict for r in reviews) else NONE_REVIEWED, ""]
    for review in reviews:
        if review.verdict is None:
            lines += [
                f"### `{review.stack}`",
                "",
                f"**From the offline diff** (below): {review.offline_reason}.",
                "",
            ]
        else:
            lines += render_stack(
                review.verdict,
                proposed=proposed.get(review.stack),
                deployed=deployed.get(review.stack),
                baseline=review.baseline,
            )
    return lines


def _migrations_section(migrations: Sequence[Migration]) -> list[str]:
    """The schema this release brings: its tasks migrate forward to it at start-up, and the
    previous release must keep working on it (blue/green, rollback, revert)."""
    if not migrations:
        return []
    lines = ["", "## Database migrations", "", render_list(migrations)]
    destructive = [m for m in migrations if m.kind == "destructive"]
    lines.append("")
    if destructive:
        names = ", ".join(f"`{m.revision}`" for m in destructive)
        lines.append(f"**Destructive migrations: {names}: the previous release may fail on them.**")
    else:
        lines.append(
            "Every migration only expands: the previous release keeps working on the schema."
        )
    return lines


def publish(
    *,
    session: Any,
    text: str,
    environment: str,
    upload: str | None,
    topic_arn: str | None,
    review_url: str | None,
) -> None:
    """Store the report next to the pipeline's artifacts and tell the approvers where it is."""
    if upload:
        bucket, _, key = upload.removeprefix("s3://").partition("/")
        session.client("s3").put_object(
            Bucket=bucket, Key=key, Body=text.encode(), ContentType="text/markdown"
        )
    if topic_arn:
        summary = "\n".join(line for line in text.splitlines() if line.startswith(("###", "**")))
        session.client("sns").publish(
            TopicArn=topic_arn,
            Subject=f"Approval waiting: deploy to {environment}"[:100],
            Message=f"{summary}\n\nFull change report: {review_url or upload or '(not stored)'}",
        )


def deployed_templates(
    session: Session,
    proposed: Mapping[str, Any],
    locations: Mapping[str, permissions.Location],
    *,
    region: str,
) -> dict[str, dict[str, Any]]:
    """The deployed template of each proposed stack that exists, read in the stack's region."""
    # The edge stack is in us-east-1; IAM roles are global, so the environment's lookup role
    # reads them all.
    regions = {name: location[1] for name, location in locations.items()}
    clients = cloudformation_clients(session, (regions.get(name, region) for name in proposed))
    return {
        name: template
        for name in proposed
        if (template := deployed_template(clients[regions.get(name, region)], name)) is not None
    }


def _review_clients(
    *, read: Session, region: str, environment: str
) -> Callable[[SynthesizedStack], Clients]:
    """Each stack's clients: its region's file-publishing and deploy roles (assumed once per
    role), and the lookup role's session for reading."""
    sessions: dict[str, Session] = {}

    def assumed(role_arn: str, role_region: str) -> Session:
        if role_arn not in sessions:
            sessions[role_arn] = aws_session(
                region=role_region, role_arn=role_arn, session_name=f"change-report-{environment}"
            )
        return sessions[role_arn]

    def clients(stack: SynthesizedStack) -> Clients:
        destination = stack.template_destination
        stack_region = stack.region or region
        return Clients(
            publish=assumed(destination.role_arn, destination.region).client(
                "s3", region_name=destination.region
            ),
            deploy=assumed(stack.deploy_role_arn, stack_region).client(
                "cloudformation", region_name=stack_region
            ),
            read=read.client("cloudformation", region_name=stack_region),
        )

    return clients


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="What deploying this commit would change")
    parser.add_argument("--environment", required=True)
    parser.add_argument("--assembly", type=Path, default=ASSEMBLY_DIR)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--role-arn", help="read-only role in the environment's account")
    parser.add_argument("--commit", default="unknown")
    parser.add_argument(
        "--review-change-sets",
        metavar="EXECUTION_ID",
        help="create, read and delete a change set per stack, named after this execution",
    )
    parser.add_argument("--upload", help="s3://bucket/key to store the report at")
    parser.add_argument("--topic-arn", help="SNS topic told that the report waits for approval")
    parser.add_argument("--review-url", help="link to the stored report, sent in the notice")
    parser.add_argument(
        "--fail-on-wildcard",
        action="store_true",
        help="exit 1 when the change adds a wildcard grant AWS does not require (before prod)",
    )
    return parser


def _refused_wildcards(
    broadened: dict[str, list[permissions.Grant]],
    *,
    required: Sequence[permissions.RequiredWildcard],
    locations: Mapping[str, permissions.Location],
) -> bool:
    """Print every new wildcard grant AWS does not require; True when there is one."""
    refused = permissions.unapproved_wildcards(broadened, required=required, locations=locations)
    for stack, grant in refused:
        print(
            f"change report: {stack}: new wildcard grant AWS does not require: {grant} "
            f"(not in {permissions.REQUIRED_WILDCARDS_FILE.name})",
            file=sys.stderr,
        )
    return bool(refused)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    assembly = cloud_assembly_or_exit(args.assembly, command="change report")
    if args.environment not in assembly.environments:
        print(f"change report: no stage {args.environment!r} in {args.assembly}", file=sys.stderr)
        return BAD_INPUT
    proposed = assembly.templates(args.environment)
    locations = {stack.name: stack.location for stack in assembly.stacks}
    try:
        required = permissions.load_required_wildcards()
    except permissions.RequiredWildcardsError as error:
        print(f"change report: {error}", file=sys.stderr)
        return error.exit_code

    config = load_config_or_exit(environment=args.environment)
    region = config.environment(args.environment).region
    session = aws_session(
        region=region, role_arn=args.role_arn, session_name=f"change-report-{args.environment}"
    )
    try:
        deployed = deployed_templates(session, proposed, locations, region=region)
        reviews = None
        if args.review_change_sets:
            reviews = review_environment(
                assembly.environment_stacks(args.environment),
                execution_id=args.review_change_sets,
                clients=_review_clients(read=session, region=region, environment=args.environment),
                deployed=deployed,
                warn=lambda line: print(f"change report: {line}", file=sys.stderr),
            )
        text, broadened = build_report(
            environment=args.environment,
            deployed=deployed,
            reviews=reviews,
            proposed=proposed,
            commit=args.commit,
            locations=locations,
            required=required,
            migrations=all_migrations(),
        )
    except CommandError as error:  # the diff engine, or a review change set
        print(f"change report: {error}", file=sys.stderr)
        return error.exit_code
    except (ClientError, BotoCoreError) as error:  # e.g. a role that may not be assumed
        print(f"change report: {args.environment}: {error}", file=sys.stderr)
        return FAILURE
    write_atomically(args.out, text)
    print(text)
    publish(
        session=aws_session(region=config.pipeline.region),
        text=text,
        environment=args.environment,
        upload=args.upload,
        topic_arn=args.topic_arn,
        review_url=args.review_url,
    )
    if args.fail_on_wildcard and _refused_wildcards(
        broadened, required=required, locations=locations
    ):
        return FAILURE
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
