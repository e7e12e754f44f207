"""Build and push this commit's service images, once: a tag that exists is never rebuilt.

Tags are content fingerprints (infra/images.py) and the repositories are immutable, so an
existing tag already holds exactly these sources. Images are built one after the other.

    python -m ops.images.build          (`make images`, run by the pipeline's Images step)
"""

from __future__ import annotations

import base64
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
    images = pipeline_images(config)
    pushed = build_missing(boto3.client("ecr", region_name=config.pipeline.region), images)
    for name, image in sorted(images.items()):
        state = "built and pushed" if image.uri in pushed else "already published"
        print(f"{name:<8} {image.uri}  ({state})")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
