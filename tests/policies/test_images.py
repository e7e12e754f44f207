"""Base and workflow images: from ECR Public or ECR, pinned by digest (policies/images.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.images import (
    DOCKERFILES,
    check_dockerfiles,
    dockerfile_images,
    image_problem,
    main,
    workflow_images,
)
from policies.workflows import WORKFLOWS_DIR, check_workflow, load_workflow

DIGEST = "@sha256:" + "a" * 64


@pytest.mark.parametrize(
    "reference",
    [
        f"public.ecr.aws/docker/library/python:3.11-slim-bookworm{DIGEST}",
        f"public.ecr.aws/docker/library/postgres{DIGEST}",
        f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/library/python:3.11{DIGEST}",
    ],
)
def test_ecr_public_and_ecr_images_pinned_by_digest_pass(reference: str) -> None:
    assert image_problem(reference) is None


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        (f"python:3.11-slim{DIGEST}", "not from ECR Public"),
        (f"docker.io/library/python:3.11{DIGEST}", "not from ECR Public"),
        (f"ghcr.io/org/tool:1{DIGEST}", "not from ECR Public"),
        ("public.ecr.aws/docker/library/python:3.11-slim", "not pinned by digest"),
        ("public.ecr.aws/docker/library/python:latest", "not pinned by digest"),
        ("${BASE}", "built from a variable"),
    ],
)
def test_docker_hub_tags_and_unpinned_images_fail(reference: str, problem: str) -> None:
    assert problem in (image_problem(reference) or "")


def test_every_dockerfile_and_workflow_image_passes() -> None:
    assert DOCKERFILES
    assert [str(finding) for finding in check_dockerfiles()] == []
    assert main([]) == 0
    images = [
        image
        for path in sorted(WORKFLOWS_DIR.glob("*.yml"))
        for _, image in workflow_images(load_workflow(path))
    ]
    assert images  # the pull request's PostgreSQL service at least
    assert [problem for image in images if (problem := image_problem(image))] == []


def test_a_stage_named_in_from_is_not_an_image_but_every_pull_is_checked(tmp_path: Path) -> None:
    text = (
        "FROM python:3.11 AS build\n"
        f"FROM --platform=linux/amd64 public.ecr.aws/docker/library/python:3.11{DIGEST} AS run\n"
        "FROM build AS again\n"
    )
    assert [image for _, image in dockerfile_images(text)] == [
        "python:3.11",
        f"public.ecr.aws/docker/library/python:3.11{DIGEST}",
    ]
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    (finding,) = check_dockerfiles([dockerfile])
    assert (finding.where, finding.message) == ("line 1", "python:3.11: not pinned by digest "
                                                 "(@sha256:...)")  # fmt: skip
    assert main([str(dockerfile)]) == 1


def test_the_workflow_rules_refuse_docker_hub_containers_services_and_steps() -> None:
    workflow = {
        "on": {"push": {}},
        "permissions": {"contents": "read"},
        "jobs": {
            "a": {
                "timeout-minutes": 5,
                "container": "node:22",
                "services": {"db": {"image": f"postgres:16{DIGEST}"}},
                "steps": [{"uses": "docker://alpine:3"}],
            }
        },
    }
    findings = check_workflow("x.yml", "", workflow, frozenset())
    assert [(f.where, f.rule) for f in findings] == [
        ("job a container", "ecr-image-by-digest"),
        ("job a service db", "ecr-image-by-digest"),
        ("job a step 1", "ecr-image-by-digest"),
    ]
