"""Container images of the services: where they live and which immutable tag each commit uses.

The pipeline owns one ECR repository per service in its own account. Every environment pulls
the image from there, so dev, staging and prod run the same URI, byte for byte, whatever
account they live in. The tag is the content fingerprint of the build context as Docker sees
it (.dockerignore applied) plus the Dockerfile path, computed at synth the way CDK fingerprints
Docker image assets: the same sources give the same tag, so a `git revert` redeploys the very
image that ran before, and an unchanged service is never rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import FileSystem, IgnoreMode


@dataclass(frozen=True, kw_only=True)
class ServiceImage:
    service: str
    account: str
    region: str
    repository_name: str
    tag: str
    context: Path
    dockerfile: str  # relative to the context

    @property
    def repository_arn(self) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account}:repository/{self.repository_name}"

    @property
    def registry(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"

    @property
    def uri(self) -> str:
        return f"{self.registry}/{self.repository_name}:{self.tag}"


def _docker_ignore(context: Path) -> list[str]:
    ignore_file = context / ".dockerignore"
    if not ignore_file.exists():
        return []
    lines = ignore_file.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def service_images(
    *, project: str, account: str, region: str, services_dir: Path, names: Sequence[str]
) -> dict[str, ServiceImage]:
    """The image of every service that has a Dockerfile, keyed by service name.

    Reads the build context, so constructs never call it: the entry point (app.py) and the
    commands do, and hand the values on.
    """
    exclude = _docker_ignore(services_dir)
    images = {}
    for service in names:
        dockerfile = f"{service}/Dockerfile"
        if not (services_dir / dockerfile).exists():
            continue
        fingerprint = FileSystem.fingerprint(
            str(services_dir),
            # The Dockerfile is not sent to the daemon, but a change to it changes the image.
            exclude=[*exclude, f"!{dockerfile}"],
            ignore_mode=IgnoreMode.DOCKER,
            extra_hash=dockerfile,
        )
        images[service] = ServiceImage(
            service=service,
            account=account,
            region=region,
            repository_name=f"{project}/{service}",
            tag=fingerprint,
            context=services_dir,
            dockerfile=dockerfile,
        )
    return images
