"""Build and push this commit's service images, once: a tag that exists is never rebuilt.

Tags are content fingerprints (infra/images.py) and the repositories are immutable, so an
existing tag already holds exactly these sources. Images are built one after the other.

The pipeline's Images action runs in the Build stage, before the self-mutation: on the commit
that adds a service, its repository does not exist yet. IMAGE_REPOSITORIES (set by that action)
names the repositories the running pipeline has; an image of another one is left for the
execution after the self-mutation. The names are part of the pipeline's definition, so the
self-mutation that creates the repository updates the pipeline, which cancels this execution
and starts a new one (RestartExecutionOnUpdate) that builds and scans it; an image never
built cannot be deployed either (its tag does not exist).

    python -m ops.images.build          (`make images`; `make publish-images`, the Images action)
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from config.exit_codes import SUCCESS
from ops.common import load_config_or_exit

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

    from infra.images import ServiceImage

Runner = Callable[[Sequence[str], bytes | None], None]


# What the pipeline's Images action passes: the repositories the running pipeline has.
REPOSITORIES_VARIABLE = "IMAGE_REPOSITORIES"
NOT_YET = "not in this pipeline yet: built after its self-mutation creates the repository"


def in_this_pipeline(
    images: Mapping[str, ServiceImage], environ: Mapping[str, str] = os.environ
) -> tuple[dict[str, ServiceImage], list[str]]:
    """The images whose repository the running pipeline has, and the names of the others.

    Without IMAGE_REPOSITORIES (a hand run) every image counts.
    """
    if REPOSITORIES_VARIABLE not in environ:
        return dict(images), []
    known = set(environ[REPOSITORIES_VARIABLE].split())
    present = {name: image for name, image in images.items() if image.repository_name in known}
    return present, sorted(set(images) - set(present))


def run(command: Sequence[str], stdin: bytes | None = None) -> None:
    subprocess.run(list(command), input=stdin, check=True)  # noqa: S603 - fixed docker argv


def tag_exists(ecr: ECRClient, image: ServiceImage) -> bool:
    try:
        ecr.describe_images(
            repositoryName=image.repository_name, imageIds=[{"imageTag": image.tag}]
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ImageNotFoundException":
            return False
        raise
    return True


def docker_login(ecr: ECRClient, registry: str, runner: Runner) -> None:
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(token).decode().split(":", 1)
    runner(["docker", "login", "--username", user, "--password-stdin", registry], password.encode())


def build_missing(
    ecr: ECRClient, images: Mapping[str, ServiceImage], runner: Runner = run
) -> list[str]:
    """Build and push every image whose tag is missing; returns the URIs it pushed."""
    missing = [image for _, image in sorted(images.items()) if not tag_exists(ecr, image)]
    for registry in sorted({image.registry for image in missing}):
        docker_login(ecr, registry, runner)
    for image in missing:
        runner(
            [
                # Buildx, so BuildKit builds for certain: only BuildKit reads the ignore file
                # beside the Dockerfile, which limits the context to what the tag covers.
                "docker",
                "buildx",
                "build",
                "--load",
                "--pull",
                "--file",
                str(image.context / image.dockerfile),
                "--tag",
                image.uri,
                "--label",
                f"org.opencontainers.image.revision={image.tag}",
                str(image.context),
            ],
            None,
        )
        runner(["docker", "push", image.uri], None)
    return [image.uri for image in missing]


def main() -> int:
    import boto3  # noqa: PLC0415

    from infra.images import pipeline_images  # noqa: PLC0415

    config = load_config_or_exit()
    everything = pipeline_images(config)
    images, later = in_this_pipeline(everything)
    pushed = build_missing(boto3.client("ecr", region_name=config.pipeline.region), images)
    for name, image in sorted(everything.items()):
        if name in later:
            state = NOT_YET
        else:
            state = "built and pushed" if image.uri in pushed else "already published"
        print(f"{name:<8} {image.uri}  ({state})")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
