"""Every container image we pull comes from ECR Public or ECR, pinned by digest.

Docker Hub limits anonymous pulls per source IP address, and CodeBuild and GitHub's hosted
runners pull from shared egress addresses: an anonymous Docker Hub pull fails at random once
the address's quota is spent. ECR Public mirrors the Docker Official Images under
public.ecr.aws/docker/library/<name> (the same manifests, so the same digests); an ECR
pull-through cache (<account>.dkr.ecr.<region>.amazonaws.com/...) is the other way. A digest
pin makes the pull immutable: a tag moved upstream changes nothing until a reviewed pull
request (Dependabot's) changes the digest.

Checked: every FROM in services/*/Dockerfile (except a FROM naming an earlier stage) and every
image a workflow runs (a job's container, its services, `uses: docker://...`).

    python -m policies.images      (`make lint`; the workflow images also in `make workflow-lint`)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.paths import ROOT

DOCKERFILES = sorted((ROOT / "services").glob("*/Dockerfile"))

_REGISTRY = (
    r"(?:public\.ecr\.aws"
    r"|\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?)"
)
_ALLOWED = re.compile(rf"^{_REGISTRY}/[a-z0-9._/-]+(?::[\w][\w.-]*)?@sha256:[0-9a-f]{{64}}$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_problem(reference: str) -> str | None:
    """Why ``reference`` may not be pulled, or None."""
    if "$" in reference:
        return f"{reference}: built from a variable, so it cannot be checked"
    if _ALLOWED.match(reference):
        return None
    if not _DIGEST.search(reference):
        return f"{reference}: not pinned by digest (@sha256:...)"
    return f"{reference}: not from ECR Public (public.ecr.aws/...) or an ECR registry"


@dataclass(frozen=True, kw_only=True)
class Finding:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


def dockerfile_images(text: str) -> Iterator[tuple[int, str]]:
    """(line, image) of every FROM that pulls (not one naming an earlier stage)."""
    stages: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        arguments = [word for word in words[1:] if not word.startswith("--")]
        if arguments and arguments[0].lower() not in stages:
            yield number, arguments[0]
        if len(arguments) >= 3 and arguments[1].upper() == "AS":
            stages.add(arguments[2].lower())


def workflow_images(workflow: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, image) of every container image a workflow runs."""
    for job_name, job in (workflow.get("jobs") or {}).items():
        container = job.get("container")
        if container:
            image = container if isinstance(container, str) else container.get("image")
            yield f"job {job_name} container", str(image)
        for service_name, service in (job.get("services") or {}).items():
            yield f"job {job_name} service {service_name}", str(service.get("image"))
        for index, step in enumerate(job.get("steps") or [], start=1):
            uses = str(step.get("uses", ""))
            if uses.startswith("docker://"):
                yield f"job {job_name} step {index}", uses.removeprefix("docker://")


def check_dockerfiles(paths: list[Path] = DOCKERFILES) -> list[Finding]:
    findings = []
    for path in paths:
        name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        for number, image in dockerfile_images(path.read_text(encoding="utf-8")):
            if problem := image_problem(image):
                findings.append(Finding(file=name, where=f"line {number}", message=problem))
    return findings


def main(argv: list[str] | None = None) -> int:
    paths = [Path(arg).resolve() for arg in (sys.argv[1:] if argv is None else argv)]
    try:
        findings = check_dockerfiles(paths or DOCKERFILES)
    except OSError as error:
        print(f"image rules: {error}", file=sys.stderr)
        return BAD_INPUT
    for finding in findings:
        print(finding)
    print(f"image rules: {len(paths or DOCKERFILES)} Dockerfiles, {len(findings)} findings")
    return FAILURE if findings else SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
