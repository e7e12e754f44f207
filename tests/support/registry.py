"""Images in a local ECR (moto): pushed the way a build pushes them, read back as ECR has them."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def push_image(ecr: ECRClient, *, repository: str, tag: str, build: str) -> str:
    """Push a distinct image manifest (one layer named after ``build``); returns its digest."""
    layer = "sha256:" + hashlib.sha256(build.encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": layer,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 1,
                "digest": layer,
            }
        ],
    }
    pushed = ecr.put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
    )
    return pushed["image"]["imageId"]["imageDigest"]


def image_tags(ecr: ECRClient, repository: str) -> dict[str, set[str]]:
    """Digest -> tags of every image in the repository."""
    tags: dict[str, set[str]] = {}
    for page in ecr.get_paginator("describe_images").paginate(repositoryName=repository):
        for detail in page["imageDetails"]:
            tags[detail["imageDigest"]] = set(detail.get("imageTags", []))
    return tags
