"""Container images of the services: where they live and which immutable tag each commit uses.

The pipeline owns one ECR repository per service in its own account. Every environment pulls
the image from there, so dev, staging and prod run the same URI, byte for byte, whatever
account they live in. The tag is a content fingerprint of what Docker sends
(infra/docker_context.py): the same sources give the same tag, so a `git revert` redeploys
the very image that ran before, and an unchanged service is never rebuilt.

Every image builds from the one context services/ (so it can copy the shared common/ code),
and each Dockerfile has its own ignore file beside it, ``services/<name>/Dockerfile.dockerignore``,
which BuildKit reads in preference to a context-root .dockerignore. That file admits only what
the image copies, and the fingerprint applies exactly its rules: what Docker sends and what the
tag covers are the same files, so a change to one service re-tags that service alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from config.model import DeliveryConfig
from config.paths import ROOT
from infra.docker_context import DockerIgnore, fingerprint

# BuildKit looks for `<Dockerfile path>.dockerignore` before the context's .dockerignore.
IGNORE_SUFFIX = ".dockerignore"


class ServiceImageError(Exception):
    """A registered service cannot be built: its Dockerfile or its ignore file is missing."""


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


def _ignore_rules(ignore_file: Path) -> list[str]:
    lines = ignore_file.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _required(path: Path, service: str, what: str) -> Path:
    if not path.is_file():
        raise ServiceImageError(f"service {service!r} has no {what}: {path} not found")
    return path


def service_images(
    *, project: str, account: str, region: str, services_dir: Path, names: Sequence[str]
) -> dict[str, ServiceImage]:
    """The image of each service in ``names`` (the registry's), keyed by service name.

    Reads the build context, so constructs never call it: the entry point (app.py) and the
    commands do, and hand the values on. A named service without its Dockerfile or its ignore
    file is a ServiceImageError: without the ignore file Docker would fall back to sending the
    whole of services/, and the tag would no longer describe what was built.
    """
    images = {}
    for service in names:
        dockerfile = f"{service}/Dockerfile"
        _required(services_dir / dockerfile, service, "Dockerfile")
        ignore_file = _required(
            services_dir / f"{dockerfile}{IGNORE_SUFFIX}", service, "Dockerfile ignore file"
        )
        try:
            # The Dockerfile is not sent to the daemon, but a change to it changes the image.
            # The ignore file is not hashed: its whole effect is the set of files hashed here.
            rules = DockerIgnore([*_ignore_rules(ignore_file), f"!{dockerfile}"])
        except ValueError as error:
            raise ServiceImageError(f"service {service!r}: {ignore_file}: {error}") from None
        tag = fingerprint(services_dir, rules, extra=[dockerfile])
        images[service] = ServiceImage(
            service=service,
            account=account,
            region=region,
            repository_name=f"{project}/{service}",
            tag=tag,
            context=services_dir,
            dockerfile=dockerfile,
        )
    return images


def pipeline_images(
    config: DeliveryConfig, *, services_dir: Path = ROOT / "services"
) -> dict[str, ServiceImage]:
    """The image of every registered service, in the pipeline account's repositories: what
    the synthesis deploys and what the commands build, scan and record, from one place."""
    return service_images(
        project=config.project.name,
        account=config.pipeline.account,
        region=config.pipeline.region,
        services_dir=services_dir,
        names=list(config.services),
    )
