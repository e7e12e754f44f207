"""Every pipeline step's real command, as CodeBuild runs it, with the step's own synthesized role.

Two proof classes in one run each: *run-time IAM* (every AWS call the command makes is
authorized against the role and the resources built from the synthesized templates; an action
the role lacks fails the test with the action, the resource and the step named) and the
*never-deployed account* (each step runs against an empty AWS, as on the very first pipeline
execution, and against one that holds the previous release, and does the right thing in both:
a result, or one clear line and a non-zero exit, never a stack trace and never a silent pass).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.cloud_assembly import read_cloud_assembly
from config.model import DeliveryConfig, load_config
from config.names import CHECKS_ROLE_ACTIONS, checks_role_name, release_parameter_name
from infra.images import ServiceImage, pipeline_images
from tests.support.api_process import ApiProcess, api_env
from tests.support.assembly import variant_assembly
from tests.support.aws_world import World
from tests.support.cfn import StackInfo
from tests.support.codebuild import EXECUTION_ID, StepResult, StepRunner
from tests.support.issuer import running_issuer
from tests.support.local_aws import Decision, describe
from tests.support.moto_cognito import Pool, api_trusting

CONFIG = load_config()
ENVIRONMENTS = [environment.name for environment in CONFIG.environments]
APPROVED = [e.name for e in CONFIG.environments if e.approval_required]
# The first deploy of a pipeline reaches an empty account in its first environment. The steps
# after a deploy behave alike in every environment there; each environment's own role is
# proven by its run against the previous release, which makes a superset of those calls.
FIRST = ENVIRONMENTS[:1]
PREVIOUS_TAG = "0" * 64  # the image tag of the release before this commit
# Waiting is not what these tests prove; the bake's length is config, its logic is tested.
NO_WAIT = {"BAKE_MINUTES": "0"}


@pytest.fixture(scope="session")
def images() -> dict[str, ServiceImage]:
    return pipeline_images(CONFIG)


def released(
    world: World,
    images: dict[str, ServiceImage],
    *,
    environment: str | None,
    this_commit_published: bool = True,
) -> dict[str, str]:
    """The previous release: ``environment`` deployed and recorded, its images in ECR (and,
    as the Images stage of this execution leaves them, this commit's). Returns the digests
    of this commit's images."""
    digests = {}
    for name, image in sorted(images.items()):
        location = (image.account, image.region, image.repository_name)
        previous = world.publish_image(*location, tag=PREVIOUS_TAG)
        if this_commit_published:
            digests[name] = world.publish_image(*location, tag=image.tag)
    if environment is not None:
        world.deploy_environment(environment)
        world.record_release(
            parameter=release_parameter_name(CONFIG.project.name, environment),
            release={
                "environment": environment,
                "commit": "f" * 40,
                "execution_id": "previous",
                "deployed_at": "2026-11-30T12:00:00+00:00",
                "images": {
                    name: {"uri": image.uri.replace(image.tag, PREVIOUS_TAG), "digest": previous}
                    for name, image in images.items()
                },
            },
        )
    return digests


def run(world: World, tmp_path: Path, step: str, **kwargs: Any) -> StepResult:
    runner = StepRunner(world, tmp_path)
    assert step in runner.steps, f"the synthesized pipeline has no CodeBuild step {step}"
    return runner.run(step, **kwargs)


def assert_permitted(result: StepResult) -> None:
    """Run-time IAM: nothing the command did was refused."""
    if result.denied:
        pytest.fail(
            f"{result.step}: its role lacks permissions AWS checks:\n"
            + describe(result.denied)
            + f"\n{result.explain()}",
            pytrace=False,
        )


def assert_one_clear_line(result: StepResult, *fragments: str) -> None:
    """Cannot be done: a non-zero exit and one line that says why, no stack trace."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, result.explain()
    assert "Traceback" not in output, result.explain()
    lines = [line for line in result.stderr.splitlines() if all(f in line for f in fragments)]
    assert lines, f"no line naming {fragments} on stderr:\n{result.explain()}"


def _stored_report(world: World, result: StepResult) -> str:
    bucket, _, key = result.environment["REPORT_S3_URI"].removeprefix("s3://").partition("/")
    body = world.client("s3", world.pipeline).get_object(Bucket=bucket, Key=key)["Body"].read()
    return str(body.decode())


def _announced(result: StepResult) -> bool:
    topic = result.environment["NOTIFY_TOPIC_ARN"]
    return any(
        d.action == "sns:Publish" and d.resource == topic and d.allowed for d in result.decisions
    )


# -------------------------------------------------------------------- change report


def _calls(result: StepResult, action: str) -> list[Decision]:
    return [d for d in result.decisions if d.action == action and d.allowed]


@pytest.mark.parametrize("environment", APPROVED)
def test_change_report_of_a_never_deployed_environment(
    environment: str, empty_world: World, tmp_path: Path
) -> None:
    result = run(empty_world, tmp_path, f"ChangeReport-{environment}")
    assert_permitted(result)
    assert result.returncode == 0, result.explain()
    report = _stored_report(empty_world, result)
    for stack in empty_world.environment_stacks(environment):
        assert f"stack `{stack.name}` added" in report
        # No stack exists: a change set would create it (REVIEW_IN_PROGRESS), so none is made.
        assert (
            f"### `{stack.name}`\n\n**From the offline diff** (below): the stack does not exist "
            "yet: every resource is added." in report
        )
    assert _calls(result, "cloudformation:CreateChangeSet") == []
    assert _announced(result), result.explain()
    assert EXECUTION_ID in result.environment["REPORT_S3_URI"]


@pytest.mark.parametrize("environment", APPROVED)
def test_change_report_against_the_previous_release(
    environment: str, empty_world: World, tmp_path: Path, images: dict[str, ServiceImage]
) -> None:
    """Each stack's review change set, as `cdk deploy` makes one: the template uploaded by the
    environment's file-publishing role, the change set created by its deploy role (passing the
    execution role), read by the lookup role, deleted by the deploy role; IAM enforced."""
    released(empty_world, images, environment=environment)
    result = run(empty_world, tmp_path, f"ChangeReport-{environment}")
    assert_permitted(result)
    assert result.returncode == 0, result.explain()
    report = _stored_report(empty_world, result)
    stacks = empty_world.environment_stacks(environment)
    name = f"Review-{EXECUTION_ID}"
    for stack in stacks:
        assert (
            f"### `{stack.name}`\n\nFrom CloudFormation's change set `{name}`: no changes."
            in report
        )
    created = _calls(result, "cloudformation:CreateChangeSet")
    assert {(d.resource.split(":")[3], d.caller.split("/")[1]) for d in created} == {
        (stack.region, f"cdk-hnb659fds-deploy-role-{stack.account}-{stack.region}")
        for stack in stacks
    }
    assert {d.resource.split("/", 1)[1] for d in _calls(result, "iam:PassRole")} == {
        f"cdk-hnb659fds-cfn-exec-role-{stack.account}-{stack.region}" for stack in stacks
    }
    # The templates go to each region's bootstrap bucket, where CloudFormation reads them with
    # the deploy role's credentials.
    uploads = {
        d.resource.split(":::", 1)[1]: d.caller.split("/")[1]
        for d in _calls(result, "s3:PutObject")
        if "cdk-hnb659fds-assets-" in d.resource
    }
    synthesized = read_cloud_assembly(empty_world.assembly)
    destinations = {
        stack.name: synthesized.stack(stack.name).template_destination for stack in stacks
    }
    assert uploads == {
        f"{destinations[stack.name].bucket}/{destinations[stack.name].key}": (
            f"cdk-hnb659fds-file-publishing-role-{stack.account}-{stack.region}"
        )
        for stack in stacks
    }
    read = {d.resource.split(":::", 1)[1] for d in _calls(result, "s3:GetObject") if d.implied_by}
    assert read == set(uploads)
    assert {d.caller.split("/")[1] for d in _calls(result, "cloudformation:DescribeChangeSet")} == {
        f"cdk-hnb659fds-lookup-role-{stacks[0].account}-{stacks[0].region}"
    }
    assert len(_calls(result, "cloudformation:DeleteChangeSet")) == len(stacks)
    for stack in stacks:
        summaries = empty_world.client("cloudformation", stack).list_change_sets(
            StackName=stack.name
        )["Summaries"]
        assert [s["ChangeSetName"] for s in summaries] == [], "a review change set was left"
    assert f"### {environment}: no changes" in report
    assert "No permission is broadened." in report
    assert _announced(result)


def _template_file(assembly: Path, stack_name: str) -> Path:
    try:
        return read_cloud_assembly(assembly).stack(stack_name).template_file
    except KeyError:
        raise AssertionError(f"no stack {stack_name} in {assembly}") from None


def test_change_report_before_prod_refuses_a_wildcard_aws_does_not_require(
    local_aws: Any, assembly: Any, config: DeliveryConfig, tmp_path: Path, source_artifact: Path
) -> None:
    variant = variant_assembly(assembly.root, tmp_path / "cdk.out")
    template_file = _template_file(variant, f"{CONFIG.project.name}-prod-stateless")
    template = json.loads(template_file.read_text(encoding="utf-8"))
    policy_id = next(
        logical_id
        for logical_id, resource in sorted(template["Resources"].items())
        if resource["Type"] == "AWS::IAM::Policy"
    )
    statements = template["Resources"][policy_id]["Properties"]["PolicyDocument"]["Statement"]
    statements.append({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})
    template_file.write_text(json.dumps(template), encoding="utf-8")
    local_aws.reset()
    world = World(local_aws, variant, source=source_artifact)
    world.empty(trusted_account=config.pipeline.account)

    result = run(world, tmp_path, "ChangeReport-prod")
    assert_permitted(result)
    assert_one_clear_line(
        result, f"{CONFIG.project.name}-prod-stateless", f"{policy_id}: allow sqs:* on *"
    )
    assert _announced(result), "the report is still stored and announced for the approvers"


# -------------------------------------------------------------------- images
# One action, beside Synth: build and push what is missing, then the scan gate.

HIGH_FINDING = {
    "name": "CVE-2026-0001",
    "severity": "HIGH",
    "uri": "https://nvd.nist.gov/vuln/detail/CVE-2026-0001",
    "attributes": [{"key": "package_name", "value": "openssl"}],
}


def test_images_builds_pushes_and_gates_everything_into_an_empty_registry(
    empty_world: World, tmp_path: Path, images: dict[str, ServiceImage]
) -> None:
    runner = StepRunner(empty_world, tmp_path)
    result = runner.run("Images")
    assert_permitted(result)
    assert result.returncode == 0, result.explain()
    calls = runner.docker_calls(result)
    assert [call[0] for call in calls].count("login") == 1
    for image in images.values():
        assert ["push", image.uri] in calls
        ecr = empty_world.aws.client("ecr", account=image.account, region=image.region)
        assert ecr.describe_images(
            repositoryName=image.repository_name, imageIds=[{"imageTag": image.tag}]
        )["imageDetails"]
        assert f"{image.uri}  (built and pushed)" in result.stdout
    assert "image scan gate: passed" in result.stdout


def test_images_rebuilds_nothing_that_is_published_and_gates_it(
    empty_world: World, tmp_path: Path, images: dict[str, ServiceImage]
) -> None:
    released(empty_world, images, environment=None)
    runner = StepRunner(empty_world, tmp_path)
    result = runner.run("Images")
    assert_permitted(result)
    assert result.returncode == 0, result.explain()
    assert runner.docker_calls(result) == []
    for image in images.values():
        assert f"{image.uri}  (already published)" in result.stdout
    assert "image scan gate: passed" in result.stdout


def test_images_builds_this_commit_next_to_the_previous_release(
    empty_world: World, tmp_path: Path, images: dict[str, ServiceImage]
) -> None:
    released(empty_world, images, environment=None, this_commit_published=False)
    runner = StepRunner(empty_world, tmp_path)
    result = runner.run("Images")
    assert_permitted(result)
    assert result.returncode == 0, result.explain()
    assert sorted(call[1] for call in runner.docker_calls(result) if call[0] == "push") == sorted(
        image.uri for image in images.values()
    )


def test_images_fails_on_a_blocking_finding_so_the_build_stage_fails(
    empty_world: World, tmp_path: Path, images: dict[str, ServiceImage]
) -> None:
    """Published, so nothing is rebuilt; its scan holds a HIGH finding: the action fails."""
    first = sorted(images.values(), key=lambda image: image.service)[0]
    empty_world.publish_image(
        first.account, first.region, first.repository_name, tag=first.tag, findings=[HIGH_FINDING]
    )
    for image in images.values():
        if image is not first:
            empty_world.publish_image(
                image.account, image.region, image.repository_name, tag=image.tag
            )
    result = run(empty_world, tmp_path, "Images")
    assert_permitted(result)
    assert result.returncode != 0, result.explain()
    assert "Traceback" not in result.stdout + result.stderr
    assert "BLOCKING" in result.stdout and "CVE-2026-0001" in result.stdout
    assert "image scan gate: FAILED: 1 blocking findings" in result.stdout


def test_images_leaves_a_repository_the_pipeline_has_not_created_yet_for_the_restart(
    empty_world: World, tmp_path: Path, images: dict[str, ServiceImage]
) -> None:
    """The commit that adds a service runs before the self-mutation creates its repository:
    the action must not fail (the mutation would never run); the restarted execution, whose
    definition names the new repository, builds and scans it."""
    runner = StepRunner(empty_world, tmp_path)
    known = runner.environment(runner.steps["Images"], outputs={})["IMAGE_REPOSITORIES"].split()
    newest = sorted(images.values(), key=lambda image: image.service)[-1]
    without_it = " ".join(name for name in known if name != newest.repository_name)
    result = runner.run("Images", overrides={"IMAGE_REPOSITORIES": without_it})
    assert_permitted(result)
    assert result.returncode == 0, result.explain()
    assert ["push", newest.uri] not in runner.docker_calls(result)
    assert f"{newest.uri}  (not in this pipeline yet" in result.stdout
    assert "image scan gate: passed" in result.stdout


# -------------------------------------------------------------------- after a deploy
# One Verify action per environment: the checks, the bake, then the release record.


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """A running API, as the deployed site's /api answers (the CloudFront-served web app
    and the worker path are covered by tests/e2e). It trusts a local issuer; these tests run
    the anonymous checks (the checks' sign-in under its role: test_verify_signs_in...)."""
    with running_issuer() as issuer:
        api = ApiProcess(api_env(tmp_path, **issuer.settings))
        url = str(api.wait_for("Todo API listening on")["url"])
        api.wait_for("Application startup complete")
        yield url
        api.proc.terminate()
        api.proc.wait(timeout=30)


def verify(
    world: World, tmp_path: Path, environment: str, *, site_url: str, **overrides: str
) -> StepResult:
    """The environment's Verify action; the checks this harness can answer (no web app, no
    worker path: tests/e2e), no waiting for the bake (its length is config, its logic is
    tested)."""
    runner = StepRunner(world, tmp_path)
    step = runner.steps[f"Verify-{environment}"]
    # Where the checks sign in, the stack also hands over its pool and checks client; these
    # runs leave the signed-in checks out (the sign-in under the step's role is proven apart).
    outputs = {"SiteUrl": site_url, "ChecksUserPoolId": "unused", "ChecksClientId": "unused"}
    markers = runner.environment(step, outputs=outputs)["CHECK_MARKERS"]
    return runner.run(
        f"Verify-{environment}",
        outputs=outputs,
        overrides={
            **NO_WAIT,
            "CHECK_MARKERS": f"({markers}) and not web and not integration and not contract",
            **overrides,
        },
    )


def _recorded(world: World, environment: str) -> dict[str, Any] | None:
    ssm = world.client("ssm", world.pipeline)
    try:
        parameter = ssm.get_parameter(
            Name=release_parameter_name(CONFIG.project.name, environment)
        )["Parameter"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return dict(json.loads(parameter["Value"]))


def _recorded_execution(world: World, environment: str) -> str | None:
    """The execution the environment's release record names (None: no record)."""
    record = _recorded(world, environment)
    return None if record is None else str(record["execution_id"])


@pytest.mark.parametrize("environment", FIRST)
def test_verify_without_a_site_url_fails_instead_of_skipping_and_records_nothing(
    environment: str, empty_world: World, tmp_path: Path, images: dict[str, ServiceImage]
) -> None:
    released(empty_world, images, environment=environment)
    result = verify(empty_world, tmp_path, environment, site_url="")
    assert_permitted(result)
    assert_one_clear_line(result, "SITE_URL")
    assert not re.search(r"\d+ (passed|skipped)", result.stdout), "no check ran"
    assert "verify: checks  FAILED (exit 2)" in result.stdout
    assert "verify: record  skipped" in result.stdout
    assert _recorded_execution(empty_world, environment) == "previous"


@pytest.mark.parametrize("environment", FIRST)
def test_verify_of_a_never_deployed_environment_is_not_a_silent_pass(
    environment: str, empty_world: World, tmp_path: Path, site: str
) -> None:
    """The checks pass (the site answers), the bake finds no alarm: an error, no record."""
    result = verify(empty_world, tmp_path, environment, site_url=site)
    assert_permitted(result)
    assert_one_clear_line(result, environment)
    assert "bake passed" not in result.stdout
    assert "verify: checks  passed" in result.stdout
    assert "verify: bake    FAILED (exit 3)" in result.stdout
    assert _recorded_execution(empty_world, environment) is None


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_verify_checks_bakes_and_records_this_commits_digests_after_the_previous_release(
    environment: str,
    empty_world: World,
    tmp_path: Path,
    images: dict[str, ServiceImage],
    site: str,
) -> None:
    digests = released(empty_world, images, environment=environment)
    result = verify(empty_world, tmp_path, environment, site_url=site)
    assert_permitted(result)
    assert result.returncode == 0, result.explain()
    assert "verify: checks  passed" in result.stdout
    assert "bake passed" in result.stdout
    assert f"recorded release 2 of {environment}" in result.stdout
    record = _recorded(empty_world, environment)
    assert record is not None
    assert record["commit"] == result.environment["CODEBUILD_RESOLVED_SOURCE_VERSION"]
    assert record["execution_id"] == EXECUTION_ID
    assert {name: image["digest"] for name, image in record["images"].items()} == digests


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_verify_fails_on_a_health_alarm_and_records_nothing(
    environment: str,
    empty_world: World,
    tmp_path: Path,
    images: dict[str, ServiceImage],
    site: str,
) -> None:
    released(empty_world, images, environment=environment)
    for stack in empty_world.environment_stacks(environment):
        cloudwatch = empty_world.client("cloudwatch", stack)
        for alarm in cloudwatch.describe_alarms()["MetricAlarms"]:
            cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"], StateValue="ALARM", StateReason="the test"
            )
    result = verify(empty_world, tmp_path, environment, site_url=site)
    assert_permitted(result)
    assert result.returncode != 0, result.explain()
    assert "bake FAILED" in result.stdout
    assert f"{CONFIG.project.name}-{environment}" in result.stdout
    assert "verify: record  skipped" in result.stdout
    assert _recorded_execution(empty_world, environment) == "previous"


@pytest.mark.parametrize("environment", FIRST)
def test_verify_without_published_images_fails_its_record_in_one_line(
    environment: str,
    empty_world: World,
    tmp_path: Path,
    images: dict[str, ServiceImage],
    site: str,
) -> None:
    """Deployed and healthy, yet this commit's images are not in ECR: no record."""
    released(empty_world, images, environment=environment, this_commit_published=False)
    result = verify(empty_world, tmp_path, environment, site_url=site)
    assert_permitted(result)
    first = sorted(images.values(), key=lambda image: image.service)[0]
    assert_one_clear_line(result, first.repository_name)
    assert "verify: record  FAILED (exit 1)" in result.stdout


def _checks_role(world: World, environment: str) -> tuple[StackInfo, str]:
    """The stack and logical id of the environment's post-deploy checks role."""
    name = checks_role_name(CONFIG.project.name, environment)
    for stack in world.environment_stacks(environment):
        for logical_id, role in stack.resources("AWS::IAM::Role").items():
            if role["Properties"].get("RoleName") == name:
                return stack, logical_id
    raise AssertionError(f"no role {name} in {environment}'s templates")


def _identity(world: World, environment: str, resource_type: str, where: str) -> str:
    """The physical id of the one ``resource_type`` of ``environment`` whose path has
    ``where``."""
    (found,) = [
        world.resolver.identity(stack, logical_id).ref
        for stack in world.environment_stacks(environment)
        for logical_id, resource in stack.resources(resource_type).items()
        if where in str(resource.get("Metadata", {}).get("aws:cdk:path", ""))
    ]
    return str(found)


@pytest.mark.parametrize("environment", ["dev", "staging"])
def test_verify_signs_its_check_user_in_under_its_role_and_removes_it(
    environment: str, empty_world: World, tmp_path: Path, images: dict[str, ServiceImage]
) -> None:
    """The contract checks as the pipeline runs them: the Verify role assumes the
    environment's checks role, which creates, signs in and deletes a throwaway user of the
    pool (IAM enforced on each call), and the API accepts that user's token."""
    released(empty_world, images, environment=environment)
    stack, role = _checks_role(empty_world, environment)
    role_arn = empty_world.role(stack, role)
    pool_id = _identity(empty_world, environment, "AWS::Cognito::UserPool", "/Auth/")
    client_id = _identity(empty_world, environment, "AWS::Cognito::UserPoolClient", "ChecksSignIn")
    cognito = empty_world.client("cognito-idp", stack)
    pool = Pool(cognito=cognito, user_pool_id=pool_id, client_id=client_id)
    runner = StepRunner(empty_world, tmp_path)
    outputs = {"ChecksUserPoolId": pool_id, "ChecksClientId": client_id}
    with api_trusting(pool, tmp_path) as site_url:
        outputs["SiteUrl"] = site_url
        markers = runner.environment(runner.steps[f"Verify-{environment}"], outputs=outputs)
        result = runner.run(
            f"Verify-{environment}",
            outputs=outputs,
            overrides={
                **NO_WAIT,
                "CHECK_MARKERS": f"({markers['CHECK_MARKERS']}) and not web and not integration",
            },
        )
    assert_permitted(result)
    assert result.environment["CHECKS_ROLE_ARN"] == role_arn
    assert "verify: checks  passed" in result.stdout, result.explain()
    assert re.search(r"[1-9]\d* passed", result.stdout), "the contract checks ran"
    assumed = [d for d in _calls(result, "sts:AssumeRole") if d.resource == role_arn]
    assert assumed, result.explain()
    pool_arn = f"arn:aws:cognito-idp:{stack.region}:{stack.account}:userpool/{pool_id}"
    for action in CHECKS_ROLE_ACTIONS:
        (call,) = [d for d in _calls(result, action) if d.resource == pool_arn]
        assert f":assumed-role/{role_arn.rsplit('/', 1)[1]}/" in call.caller, call
    assert pool.usernames() == [], "the check user was left in the pool"
