"""Release records: which commit and which image digests run in each environment.

After each environment deploys, the pipeline writes one SSM parameter per environment,
``/<project>/releases/<environment>``, in the pipeline account. Parameter Store keeps the
previous versions, so the parameter's history is the environment's release history.

    python -m pipeline.release record --environment dev      (the pipeline runs this)
    python -m pipeline.release list                          (`make releases`)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ssm import SSMClient

    from pipeline.images import ServiceImage


@dataclass(frozen=True, kw_only=True)
class Release:
    environment: str
    commit: str
    execution_id: str
    deployed_at: str
    images: dict[str, dict[str, str]]  # service -> {"uri", "digest"}


def parameter_name(project: str, environment: str) -> str:
    return f"/{project}/releases/{environment}"


class ReleaseError(Exception):
    """The release cannot be recorded as it is (phrased for the pipeline's log)."""


def image_digests(ecr: ECRClient, images: Mapping[str, ServiceImage]) -> dict[str, dict[str, str]]:
    """The digest behind each image tag, so the record pins exactly what runs."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    digests = {}
    for name, image in sorted(images.items()):
        try:
            described = ecr.describe_images(
                repositoryName=image.repository_name, imageIds=[{"imageTag": image.tag}]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] not in {
                "ImageNotFoundException",
                "RepositoryNotFoundException",
            }:
                raise
            raise ReleaseError(
                f"{image.repository_name}:{image.tag} is not in ECR: this commit's images are "
                "published by the Images stage before any environment deploys"
            ) from None
        (detail,) = described["imageDetails"]
        digests[name] = {"uri": image.uri, "digest": detail["imageDigest"]}
    return digests


def record(ssm: SSMClient, *, project: str, release: Release) -> int:
    """Write the release; returns the parameter version (the release number of that env)."""
    response = ssm.put_parameter(
        Name=parameter_name(project, release.environment),
        Value=json.dumps(asdict(release), sort_keys=True),
        Type="String",
        Overwrite=True,
        Description=f"Release running in {release.environment} (written by the pipeline)",
    )
    return response["Version"]


def current_releases(ssm: SSMClient, *, project: str) -> list[Release]:
    releases = []
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=f"/{project}/releases/")
    for page in pages:
        for parameter in page["Parameters"]:
            releases.append(Release(**json.loads(parameter["Value"])))
    return sorted(releases, key=lambda release: release.deployed_at)


def render(releases: list[Release]) -> str:
    if not releases:
        return "no release recorded yet"
    lines = [f"{'environment':<12} {'commit':<12} {'deployed at (UTC)':<25} images"]
    for release in releases:
        images = ", ".join(
            f"{name}@{image['digest'][:19]}" for name, image in sorted(release.images.items())
        )
        commit = release.commit[:12]
        lines.append(f"{release.environment:<12} {commit:<12} {release.deployed_at:<25} {images}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Release records in SSM Parameter Store")
    commands = parser.add_subparsers(dest="command", required=True)
    record_parser = commands.add_parser("record", help="record the release of this commit")
    record_parser.add_argument("--environment", required=True)
    commands.add_parser("list", help="print what runs where")
    args = parser.parse_args(argv)

    import boto3  # noqa: PLC0415

    from app import ROOT  # noqa: PLC0415
    from pipeline.config import ConfigError, load_config  # noqa: PLC0415

    try:
        config = load_config()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    ssm = boto3.client("ssm", region_name=config.pipeline.region)
    if args.command == "list":
        print(render(current_releases(ssm, project=config.project.name)))
        return 0

    from pipeline.images import service_images  # noqa: PLC0415

    images = service_images(
        project=config.project.name,
        account=config.pipeline.account,
        region=config.pipeline.region,
        services_dir=ROOT / "services",
    )
    try:
        digests = image_digests(boto3.client("ecr", region_name=config.pipeline.region), images)
    except ReleaseError as error:
        print(f"release record: {error}", file=sys.stderr)
        return 1
    release = Release(
        environment=args.environment,
        # Set by CodeBuild / the pipeline step; "unknown" keeps a hand-run record honest.
        commit=os.environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION", "unknown"),
        execution_id=os.environ.get("PIPELINE_EXECUTION_ID", "unknown"),
        deployed_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        images=digests,
    )
    version = record(ssm, project=config.project.name, release=release)
    print(f"recorded release {version} of {args.environment}: {release.commit[:12]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
