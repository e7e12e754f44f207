"""Release records: written per environment with digests, listed as "what runs where", and the
release tags that keep every image a retained record names from expiring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from config.model import DeliveryConfig
from config.names import release_parameter_name, release_tag
from infra.images import ServiceImage
from ops.release.record import (
    Release,
    ReleaseError,
    current_releases,
    image_digests,
    record,
    record_release,
    render,
)
from tests.support.assembly import Assembly, properties, resources
from tests.support.registry import image_tags, push_image

IMAGE = ServiceImage(
    service="api",
    account="111111111111",
    region="eu-west-1",
    repository_name="todo/api",
    tag="f" * 64,
    context=Path("services"),
    dockerfile="api/Dockerfile",
)
DIGEST = "sha256:" + "a" * 64


FAKE_CREDENTIALS: dict[str, Any] = {
    "region_name": "eu-west-1",
    "aws_access_key_id": "x",
    "aws_secret_access_key": "x",
}


def _release(environment: str, deployed_at: str) -> Release:
    return Release(
        environment=environment,
        commit="0123456789abcdef",
        execution_id="exec-1",
        deployed_at=deployed_at,
        images={"api": {"uri": IMAGE.uri, "digest": DIGEST}},
    )


def test_digests_are_looked_up_for_the_exact_tag() -> None:
    ecr = boto3.client("ecr", **FAKE_CREDENTIALS)
    with Stubber(ecr) as stub:
        stub.add_response(
            "describe_images",
            {"imageDetails": [{"imageDigest": DIGEST}]},
            {"repositoryName": "todo/api", "imageIds": [{"imageTag": IMAGE.tag}]},
        )
        assert image_digests(ecr, {"api": IMAGE}) == {"api": {"uri": IMAGE.uri, "digest": DIGEST}}


def test_record_overwrites_the_environment_parameter_and_returns_its_version() -> None:
    ssm = boto3.client("ssm", **FAKE_CREDENTIALS)
    release = _release("dev", "2026-11-21T10:00:00+00:00")
    with Stubber(ssm) as stub:
        stub.add_response(
            "put_parameter",
            {"Version": 7},
            {
                "Name": "/todo/releases/dev",
                "Value": ANY,
                "Type": "String",
                "Overwrite": True,
                "Description": ANY,
            },
        )
        assert record(ssm, project="todo", release=release) == 7
    assert release_parameter_name("todo", "prod") == "/todo/releases/prod"


def test_list_reads_every_environment_and_renders_what_runs_where() -> None:
    ssm = boto3.client("ssm", **FAKE_CREDENTIALS)
    dev, prod = (
        _release("dev", "2026-11-21T10:00:00+00:00"),
        _release("prod", "2026-11-21T12:00:00+00:00"),
    )
    with Stubber(ssm) as stub:
        stub.add_response(
            "get_parameters_by_path",
            {
                "Parameters": [
                    {"Name": "/todo/releases/prod", "Value": json.dumps(prod.__dict__)},
                    {"Name": "/todo/releases/dev", "Value": json.dumps(dev.__dict__)},
                ]
            },
            {"Path": "/todo/releases/"},
        )
        releases = current_releases(ssm, project="todo")
    assert [r.environment for r in releases] == ["dev", "prod"]
    lines = render(releases).splitlines()
    assert lines[1].split()[:2] == ["dev", "0123456789ab"]
    assert f"api@{DIGEST[:19]}" in lines[2]


def test_nothing_recorded_yet_is_said_plainly() -> None:
    assert render([]) == "no release recorded yet"


# ------------------------------------------------------------ release tags, against moto

ENVIRONMENTS = ["dev", "staging", "prod"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    with mock_aws():
        ecr = boto3.client("ecr", region_name="eu-west-1")
        ssm = boto3.client("ssm", region_name="eu-west-1")
        ecr.create_repository(repositoryName="todo/api", imageTagMutability="IMMUTABLE")
        yield ssm, ecr


def _built(ecr: Any, tag: str) -> tuple[ServiceImage, str]:
    image = replace(IMAGE, tag=tag)
    return image, push_image(ecr, repository="todo/api", tag=tag, build=tag)


def _record(ssm: Any, ecr: Any, environment: str, image: ServiceImage) -> Any:
    release = Release(
        environment=environment,
        commit=image.tag[:12],
        execution_id="exec",
        deployed_at="2026-12-01T10:00:00+00:00",
        images=image_digests(ecr, {"api": image}),
    )
    return record_release(
        ssm, ecr, project="todo", environments=ENVIRONMENTS, release=release, images={"api": image}
    )


def test_the_first_release_in_an_empty_history_records_and_tags_its_image(
    aws: tuple[Any, Any],
) -> None:
    ssm, ecr = aws
    image, digest = _built(ecr, "1" * 64)
    unreleased, other = _built(ecr, "2" * 64)

    version, protections = _record(ssm, ecr, "dev", image)

    assert version == 1
    assert image_tags(ecr, "todo/api") == {
        digest: {image.tag, release_tag(digest)},
        other: {unreleased.tag},
    }
    assert protections["todo/api"].removed == []
    (history,) = ssm.get_parameter_history(Name="/todo/releases/dev")["Parameters"]
    assert json.loads(history["Value"])["images"]["api"]["digest"] == digest
    assert release_tag(digest) == "release-" + digest.removeprefix("sha256:")


def test_recording_the_same_image_again_changes_no_tag(aws: tuple[Any, Any]) -> None:
    ssm, ecr = aws
    image, digest = _built(ecr, "1" * 64)
    _record(ssm, ecr, "dev", image)
    before = image_tags(ecr, "todo/api")

    # The same image promoted to staging, and recorded once more in dev (a retried step).
    _, staging = _record(ssm, ecr, "staging", image)
    version, dev = _record(ssm, ecr, "dev", image)

    assert version == 2
    assert image_tags(ecr, "todo/api") == before == {digest: {image.tag, release_tag(digest)}}
    assert [(p.added, p.removed) for p in (staging["todo/api"], dev["todo/api"])] == [([], [])] * 2


def test_an_image_no_retained_record_names_loses_its_release_tag_but_keeps_its_own(
    aws: tuple[Any, Any],
) -> None:
    ssm, ecr = aws
    first, first_digest = _built(ecr, "0" * 64)
    _record(ssm, ecr, "dev", first)
    # 100 newer dev releases push the first one out of the retained history.
    for number in range(1, 101):
        image, _ = _built(ecr, f"{number:064x}")
        _, protections = _record(ssm, ecr, "dev", image)

    assert protections["todo/api"].removed == [first_digest]
    assert image_tags(ecr, "todo/api")[first_digest] == {first.tag}
    protected = [d for d, tags in image_tags(ecr, "todo/api").items() if release_tag(d) in tags]
    assert len(protected) == 100


def test_an_image_still_named_by_another_environment_keeps_its_release_tag(
    aws: tuple[Any, Any],
) -> None:
    ssm, ecr = aws
    prod_image, prod_digest = _built(ecr, "0" * 64)
    _record(ssm, ecr, "dev", prod_image)
    _record(ssm, ecr, "prod", prod_image)
    for number in range(1, 102):
        image, _ = _built(ecr, f"{number:064x}")
        _record(ssm, ecr, "dev", image)

    assert release_tag(prod_digest) in image_tags(ecr, "todo/api")[prod_digest]


def test_a_release_tag_lost_in_between_is_put_back_by_the_next_record(
    aws: tuple[Any, Any],
) -> None:
    ssm, ecr = aws
    image, digest = _built(ecr, "1" * 64)
    _record(ssm, ecr, "prod", image)
    # As if a concurrent record step had read the history before prod's record was written.
    ecr.batch_delete_image(repositoryName="todo/api", imageIds=[{"imageTag": release_tag(digest)}])

    newer, _ = _built(ecr, "2" * 64)
    _, protections = _record(ssm, ecr, "dev", newer)

    assert protections["todo/api"].added == [digest]
    assert release_tag(digest) in image_tags(ecr, "todo/api")[digest]


def test_a_history_that_cannot_be_read_unprotects_nothing(aws: tuple[Any, Any]) -> None:
    ssm, ecr = aws
    image, digest = _built(ecr, "1" * 64)
    _record(ssm, ecr, "dev", image)
    ssm.put_parameter(Name="/todo/releases/prod", Value="{not json", Type="String")
    newer, _ = _built(ecr, "2" * 64)

    with pytest.raises(ReleaseError, match="/todo/releases/prod version 1: not a release record"):
        _record(ssm, ecr, "dev", newer)
    assert release_tag(digest) in image_tags(ecr, "todo/api")[digest]


def test_an_image_that_was_never_pushed_fails_in_one_line(aws: tuple[Any, Any]) -> None:
    _, ecr = aws
    with pytest.raises(ReleaseError, match=r"todo/api:9{64}: cannot be described"):
        image_digests(ecr, {"api": replace(IMAGE, tag="9" * 64)})


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return sorted([actions] if isinstance(actions, str) else actions)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_release_record_role_writes_only_its_own_record_and_the_image_repositories(
    assembly: Assembly, config: DeliveryConfig, environment: str
) -> None:
    template = assembly.pipeline_template
    (project,) = [
        p
        for p in properties(template, "AWS::CodeBuild::Project")
        # The Verify action writes the record, after its checks and bake.
        if "make verify" in str(p["Source"].get("BuildSpec"))
        and {"Name": "ENV", "Type": "PLAINTEXT", "Value": environment}
        in p["Environment"].get("EnvironmentVariables", [])
    ]
    role = {"Ref": project["ServiceRole"]["Fn::GetAtt"][0]}
    statements = [
        statement
        for policy in properties(template, "AWS::IAM::Policy")
        if role in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
        if any(action.startswith(("ssm:", "ecr:")) for action in _actions(statement))
    ]
    arn = f"arn:aws:ssm:{config.pipeline.region}:{config.pipeline.account}:parameter"
    repositories = {
        logical_id for logical_id, repository in resources(template, "AWS::ECR::Repository").items()
    }
    # What it may do is proven by running it under this role (test_steps_in_aws.py); here,
    # where: it writes its own environment's record only, reads every environment's history,
    # and touches images in the pipeline's repositories only.
    records = {f"{arn}/todo/releases/{env.name}" for env in config.environments}
    for statement in statements:
        targets = _list(statement["Resource"])
        for action in _actions(statement):
            if action == "ssm:PutParameter":
                assert targets == [f"{arn}/todo/releases/{environment}"]
            elif action.startswith("ssm:"):
                assert set(targets) <= records
            else:
                assert {ref["Fn::GetAtt"][0] for ref in targets} <= repositories
