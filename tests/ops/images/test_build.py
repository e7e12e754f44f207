"""Images are built once: existing tags are skipped, missing ones built and pushed in order."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra.images import ServiceImage
from ops.images.build import REPOSITORIES_VARIABLE, build_missing, in_this_pipeline


def _image(service: str) -> ServiceImage:
    return ServiceImage(
        service=service,
        account="111111111111",
        region="eu-west-1",
        repository_name=f"todo/{service}",
        tag=service[0] * 64,
        context=Path("/src/services"),
        dockerfile=f"{service}/Dockerfile",
    )


IMAGES = {"api": _image("api"), "worker": _image("worker")}
FAKE: dict[str, Any] = {
    "region_name": "eu-west-1",
    "aws_access_key_id": "x",
    "aws_secret_access_key": "x",
}


class Recorder:
    def __init__(self) -> None:
        self.commands: list[tuple[list[str], bytes | None]] = []

    def __call__(self, command: Sequence[str], stdin: bytes | None) -> None:
        self.commands.append((list(command), stdin))


def _describe(stub: Stubber, image: ServiceImage, *, exists: bool) -> None:
    params = {"repositoryName": image.repository_name, "imageIds": [{"imageTag": image.tag}]}
    if exists:
        stub.add_response(
            "describe_images", {"imageDetails": [{"imageDigest": "sha256:" + "0" * 64}]}, params
        )
    else:
        stub.add_client_error(
            "describe_images", "ImageNotFoundException", "no such tag", expected_params=params
        )


def test_only_missing_tags_are_built_and_pushed_after_one_login() -> None:
    ecr, recorder = boto3.client("ecr", **FAKE), Recorder()
    with Stubber(ecr) as stub:
        _describe(stub, IMAGES["api"], exists=True)
        _describe(stub, IMAGES["worker"], exists=False)
        token = base64.b64encode(b"AWS:secret-password").decode()
        stub.add_response(
            "get_authorization_token", {"authorizationData": [{"authorizationToken": token}]}
        )
        pushed = build_missing(ecr, IMAGES, recorder)
        stub.assert_no_pending_responses()

    worker = IMAGES["worker"]
    assert pushed == [worker.uri]
    (login, login_stdin), (build, _), (push, _) = recorder.commands
    assert login == ["docker", "login", "--username", "AWS", "--password-stdin", worker.registry]
    assert login_stdin == b"secret-password"
    # BuildKit, the builder that reads services/worker/Dockerfile.dockerignore.
    assert build[:4] == ["docker", "buildx", "build", "--load"]
    assert build[build.index("--file") + 1] == "/src/services/worker/Dockerfile"
    assert build[build.index("--tag") + 1] == worker.uri
    assert build[-1] == "/src/services"
    assert push == ["docker", "push", worker.uri]


def test_nothing_to_do_when_every_tag_exists() -> None:
    ecr, recorder = boto3.client("ecr", **FAKE), Recorder()
    with Stubber(ecr) as stub:
        _describe(stub, IMAGES["api"], exists=True)
        _describe(stub, IMAGES["worker"], exists=True)
        assert build_missing(ecr, IMAGES, recorder) == []
    assert recorder.commands == []


def test_other_registry_errors_stop_the_build() -> None:
    ecr = boto3.client("ecr", **FAKE)
    with Stubber(ecr) as stub:
        stub.add_client_error("describe_images", "RepositoryNotFoundException", "no repo")
        with pytest.raises(Exception, match="RepositoryNotFoundException"):
            build_missing(ecr, {"api": IMAGES["api"]}, Recorder())


def test_a_hand_run_builds_every_image() -> None:
    assert in_this_pipeline(IMAGES, environ={}) == (IMAGES, [])


def test_the_pipeline_builds_only_into_the_repositories_it_has() -> None:
    """The commit that adds a service runs before the self-mutation creates its repository."""
    present, later = in_this_pipeline(IMAGES, environ={REPOSITORIES_VARIABLE: "todo/api"})
    assert present == {"api": IMAGES["api"]}
    assert later == ["worker"]
    both = in_this_pipeline(IMAGES, environ={REPOSITORIES_VARIABLE: "todo/api todo/worker"})
    assert both == (IMAGES, [])
