"""Release records: which commit and which image digests run in each environment.

After each environment deploys, the pipeline writes one SSM parameter per environment,
``/<project>/releases/<environment>``, in the pipeline account. Parameter Store keeps the
previous versions, so the parameter's history is the environment's release history.

An image a retained release record references must never expire: it is what an environment
runs, or what a revert returns to. Recording a release therefore also maintains one extra,
immutable tag, ``release-<digest hex>``, on exactly the images the retained records of all
environments reference, and the repositories' highest-priority lifecycle rule selects that
prefix, so no lower rule can expire those images (pipeline/image_repositories.py).

Adding the tag is not enough on its own: ECR counts and expires by push time, never by when a
tag was added, so a count over "every image ever released" would still expire an old image a
revert brought back once enough newer released images were pushed. Tags are removed again
from images no retained record references, which keeps the protected set equal to what the
records reference: at most ``RETAINED_VERSIONS`` per environment and repository, which is the
bound the lifecycle rule is sized by (``protected_image_bound``).

    python -m ops.release.record record --environment dev      (the pipeline runs this)
    python -m ops.release.record list                          (`make releases`)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from config.exit_codes import FAILURE, SUCCESS
from config.names import release_parameter_name, release_parameter_path, release_tag
from ops.common import CommandError, load_config_or_exit

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ssm import SSMClient

    from config.model import DeliveryConfig
    from infra.images import ServiceImage

# What BatchGetImage may return, so the manifest comes back as stored, byte for byte: PutImage
# of the same bytes adds a tag to the same digest instead of creating an image.
MANIFEST_MEDIA_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]


class ReleaseError(CommandError):
    """The release cannot be recorded; the message names the image or parameter."""


@dataclass(frozen=True, kw_only=True)
class Release:
    environment: str
    commit: str
    execution_id: str
    deployed_at: str
    images: dict[str, dict[str, str]]  # service -> {"uri", "digest"}


def repository_of(uri: str) -> str:
    """``<registry>/<repository>:<tag>`` -> ``<repository>``."""
    return uri.split("/", 1)[1].rsplit(":", 1)[0]


def image_digests(ecr: ECRClient, images: Mapping[str, ServiceImage]) -> dict[str, dict[str, str]]:
    """The digest behind each image tag, so the record pins exactly what runs."""
    digests = {}
    for name, image in sorted(images.items()):
        try:
            described = ecr.describe_images(
                repositoryName=image.repository_name, imageIds=[{"imageTag": image.tag}]
            )
        except ClientError as error:
            raise ReleaseError(
                f"{image.uri}: cannot be described ({error.response['Error']['Code']}); "
                "was it built and pushed by this execution?"
            ) from None
        (detail,) = described["imageDetails"]
        digests[name] = {"uri": image.uri, "digest": detail["imageDigest"]}
    return digests


def protect(ecr: ECRClient, *, repository: str, digest: str) -> bool:
    """Add the release tag to an image; False when it already carries it."""
    found = ecr.batch_get_image(
        repositoryName=repository,
        imageIds=[{"imageDigest": digest}],
        acceptedMediaTypes=MANIFEST_MEDIA_TYPES,
    )
    if not found["images"]:
        raise ReleaseError(f"{repository}@{digest}: not in the registry, cannot be protected")
    image = found["images"][0]
    extra: dict[str, Any] = {}
    if image.get("imageManifestMediaType"):
        extra["imageManifestMediaType"] = image["imageManifestMediaType"]
    try:
        # ECR allows a new tag on an existing image even where tags are immutable; the digest
        # makes ECR refuse (ImageDigestDoesNotMatch) rather than create a different image.
        ecr.put_image(
            repositoryName=repository,
            imageManifest=image["imageManifest"],
            imageTag=release_tag(digest),
            imageDigest=digest,
            **extra,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ImageAlreadyExistsException":
            return False
        raise
    return True


def referenced_digests(
    ssm: SSMClient, *, project: str, environments: Iterable[str]
) -> dict[str, set[str]]:
    """Repository -> the digests that a retained release record of any environment names."""
    referenced: dict[str, set[str]] = {}
    for environment in environments:
        name = release_parameter_name(project, environment)
        pages = ssm.get_paginator("get_parameter_history").paginate(Name=name)
        try:
            versions = [version for page in pages for version in page["Parameters"]]
        except ssm.exceptions.ParameterNotFound:
            continue  # never released there yet
        for version in versions:
            try:
                images = json.loads(version["Value"])["images"].values()
                pairs = [(repository_of(image["uri"]), image["digest"]) for image in images]
            except (ValueError, KeyError, TypeError, AttributeError, IndexError):
                raise ReleaseError(
                    f"{name} version {version.get('Version')}: not a release record; "
                    "nothing is unprotected while the history cannot be read"
                ) from None
            for repository, digest in pairs:
                referenced.setdefault(repository, set()).add(digest)
    return referenced


@dataclass(frozen=True, kw_only=True)
class Protection:
    """What one pass over a repository changed."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # Referenced by a record, yet gone from the registry (expired before this protection).
    missing: list[str] = field(default_factory=list)


def _image_tags(ecr: ECRClient, repository: str) -> dict[str, frozenset[str]]:
    """Every image of the repository (digest -> its tags)."""
    tags: dict[str, set[str]] = {}
    # ListImages: one entry per tag (and one per untagged image), no layer details.
    for page in ecr.get_paginator("list_images").paginate(repositoryName=repository):
        for image in page["imageIds"]:
            found = tags.setdefault(image["imageDigest"], set())
            if "imageTag" in image:
                found.add(image["imageTag"])
    return {digest: frozenset(found) for digest, found in tags.items()}


def reconcile(ecr: ECRClient, *, repository: str, referenced: set[str]) -> Protection:
    """Make the release tags of ``repository`` name exactly the ``referenced`` images."""
    images = _image_tags(ecr, repository)
    protected = {digest for digest, tags in images.items() if release_tag(digest) in tags}
    added = [
        digest
        for digest in sorted(referenced - protected)
        if digest in images and protect(ecr, repository=repository, digest=digest)
    ]
    # Removing an image's last tag deletes the image: only remove where another tag stays.
    stale = [d for d in sorted(protected - referenced) if len(images[d]) > 1]
    for start in range(0, len(stale), 100):  # BatchDeleteImage takes 100 ids at most
        ecr.batch_delete_image(
            repositoryName=repository,
            imageIds=[{"imageTag": release_tag(digest)} for digest in stale[start : start + 100]],
        )
    return Protection(added=added, removed=stale, missing=sorted(referenced - images.keys()))


def record(ssm: SSMClient, *, project: str, release: Release) -> int:
    """Write the release; returns the parameter version (the release number of that env)."""
    response = ssm.put_parameter(
        Name=release_parameter_name(project, release.environment),
        Value=json.dumps(asdict(release), sort_keys=True),
        Type="String",
        Overwrite=True,
        Description=f"Release running in {release.environment} (written by the pipeline)",
    )
    return response["Version"]


def current_releases(ssm: SSMClient, *, project: str) -> list[Release]:
    releases = []
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path=release_parameter_path(project)
    )
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


def record_release(
    ssm: SSMClient,
    ecr: ECRClient,
    *,
    project: str,
    environments: list[str],
    release: Release,
    images: Mapping[str, ServiceImage],
) -> tuple[int, dict[str, Protection]]:
    """Protect the release's images, record it, then re-fit every repository's protection.

    Order matters for concurrent stages (another environment's record step may run at the
    same time): an image is tagged before a record names it, and a tag removed because no
    record named its image is put back if a record written meanwhile names it.
    """
    for name, image in sorted(release.images.items()):
        protect(ecr, repository=images[name].repository_name, digest=image["digest"])
    version = record(ssm, project=project, release=release)
    repositories = sorted({image.repository_name for image in images.values()})
    referenced = referenced_digests(ssm, project=project, environments=environments)
    protections = {
        repository: reconcile(
            ecr, repository=repository, referenced=referenced.get(repository, set())
        )
        for repository in repositories
    }
    removed = {(d, repository) for repository, p in protections.items() for d in p.removed}
    if removed:
        # A record written since the histories were read is its environment's latest version.
        for digest, repository in removed & _latest_references(ssm, project, environments):
            protect(ecr, repository=repository, digest=digest)
    return version, protections


def _latest_references(
    ssm: SSMClient, project: str, environments: Iterable[str]
) -> set[tuple[str, str]]:
    """(digest, repository) of every image the environments' latest records name."""
    names = [release_parameter_name(project, environment) for environment in environments]
    references = set()
    for start in range(0, len(names), 10):  # GetParameters takes 10 names at most
        found = ssm.get_parameters(Names=names[start : start + 10])["Parameters"]
        for parameter in found:
            for image in json.loads(parameter["Value"])["images"].values():
                references.add((image["digest"], repository_of(image["uri"])))
    return references


def _record_command(config: DeliveryConfig, environment: str) -> int:
    import boto3  # noqa: PLC0415

    from infra.images import pipeline_images  # noqa: PLC0415

    region = config.pipeline.region
    ssm, ecr = boto3.client("ssm", region_name=region), boto3.client("ecr", region_name=region)
    images = pipeline_images(config)
    try:
        release = Release(
            environment=environment,
            # Set by CodeBuild / the pipeline step; "unknown" keeps a hand-run record honest.
            commit=os.environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION", "unknown"),
            execution_id=os.environ.get("PIPELINE_EXECUTION_ID", "unknown"),
            deployed_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            images=image_digests(ecr, images),
        )
        version, protections = record_release(
            ssm,
            ecr,
            project=config.project.name,
            environments=[env.name for env in config.environments],
            release=release,
            images=images,
        )
    except ReleaseError as error:
        print(f"error: release record of {environment}: {error}", file=sys.stderr)
        return error.exit_code
    except ClientError as error:
        operation = error.operation_name
        print(f"error: release record of {environment}: {operation}: {error}", file=sys.stderr)
        return FAILURE
    print(f"recorded release {version} of {environment}: {release.commit[:12]}")
    for repository, protection in protections.items():
        print(
            f"{repository}: protected +{len(protection.added)} -{len(protection.removed)} "
            "(images a retained release record names carry a release- tag)"
        )
        for digest in protection.missing:
            print(f"warning: {repository}@{digest} is named by a release record but is gone")
    return SUCCESS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Release records in SSM Parameter Store")
    commands = parser.add_subparsers(dest="command", required=True)
    record_parser = commands.add_parser("record", help="record the release of this commit")
    record_parser.add_argument("--environment", required=True)
    commands.add_parser("list", help="print what runs where")
    args = parser.parse_args(argv)

    import boto3  # noqa: PLC0415

    config = load_config_or_exit(environment=args.environment if args.command == "record" else None)
    if args.command == "record":
        return _record_command(config, args.environment)
    ssm = boto3.client("ssm", region_name=config.pipeline.region)
    print(render(current_releases(ssm, project=config.project.name)))
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
