"""`docker` for the image-build step in the harness (no Docker engine here).

It records every argv (one JSON line each in $FAKE_DOCKER_LOG; `login` records the registry and
user, never the password read from stdin). `push` does what the registry does for a push,
through the ECR API with the step's credentials: check the layers, upload one, put the image
manifest under the tag. So the permissions a real push needs (ecr:InitiateLayerUpload,
UploadLayerPart, CompleteLayerUpload, BatchCheckLayerAvailability, PutImage) are checked on
the step's role, and the pushed tag is then published for every later step.
https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

_URI = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:]+):(.+)$")
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def _record(entry: dict[str, object]) -> None:
    with Path(os.environ["FAKE_DOCKER_LOG"]).open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def _push(uri: str) -> int:
    import boto3  # noqa: PLC0415

    match = _URI.match(uri)
    if not match:
        print(f"fake docker: not an ECR image URI: {uri}", file=sys.stderr)
        return 1
    registry, region, repository, tag = match.groups()
    ecr = boto3.client("ecr", region_name=region)
    blob = f"layer of {uri}".encode()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    ecr.batch_check_layer_availability(
        registryId=registry, repositoryName=repository, layerDigests=[digest]
    )
    upload = ecr.initiate_layer_upload(registryId=registry, repositoryName=repository)
    ecr.upload_layer_part(
        registryId=registry,
        repositoryName=repository,
        uploadId=upload["uploadId"],
        partFirstByte=0,
        partLastByte=len(blob) - 1,
        layerPartBlob=blob,
    )
    ecr.complete_layer_upload(
        registryId=registry,
        repositoryName=repository,
        uploadId=upload["uploadId"],
        layerDigests=[digest],
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(blob),
            "digest": digest,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(blob),
                "digest": digest,
            }
        ],
    }
    ecr.put_image(
        registryId=registry,
        repositoryName=repository,
        imageManifest=json.dumps(manifest),
        imageManifestMediaType=MANIFEST_TYPE,
        imageTag=tag,
    )
    _scanned_on_push(registry=registry, region=region, repository=repository, tag=tag)
    return 0


def _scanned_on_push(*, registry: str, region: str, repository: str, tag: str) -> None:
    """What ECR does after a push into a scan-on-push repository: a completed basic scan (no
    findings). Done as the registry does it, with the harness's identity (FAKE_REGISTRY_*),
    not the pusher's: scanning on push needs no permission of the pushing role."""
    import boto3  # noqa: PLC0415
    import requests  # noqa: PLC0415

    ecr = boto3.client(
        "ecr",
        region_name=region,
        aws_access_key_id=os.environ["FAKE_REGISTRY_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["FAKE_REGISTRY_SECRET_ACCESS_KEY"],
        aws_session_token=None,
    )
    (found,) = ecr.describe_repositories(repositoryNames=[repository])["repositories"]
    if not found.get("imageScanningConfiguration", {}).get("scanOnPush"):
        return
    ecr.start_image_scan(repositoryName=repository, imageId={"imageTag": tag})
    result: dict[str, Any] = {
        "registryId": registry,
        "repositoryName": repository,
        "imageId": {"imageTag": tag},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed."},
        "imageScanFindings": {"findings": [], "findingSeverityCounts": {}},
    }
    requests.post(
        f"{os.environ['AWS_ENDPOINT_URL']}/moto-api/static/ecr/scan-finding-results",
        json={"results": [result], "region": region, "account_id": registry},
        timeout=30,
    ).raise_for_status()


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "login":
        password = sys.stdin.read()
        _record({"argv": argv, "password_given": bool(password.strip())})
        return 0 if password.strip() else 1
    _record({"argv": argv})
    if command == "build":
        dockerfile = Path(argv[argv.index("--file") + 1])
        if not dockerfile.is_file():
            print(f"fake docker: {dockerfile} not found", file=sys.stderr)
            return 1
        return 0
    if command == "push":
        return _push(argv[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
