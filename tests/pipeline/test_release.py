"""Release records: written per environment with digests, listed as "what runs where"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from pipeline.images import ServiceImage
from pipeline.release import (
    Release,
    current_releases,
    image_digests,
    parameter_name,
    record,
    render,
)

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
    assert parameter_name("todo", "prod") == "/todo/releases/prod"


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
