"""No image a retained release record names ever expires: the synthesized lifecycle rules,
replayed over hundreds of builds and releases.

The policy is read from the pipeline template of the session assembly (the
LifecyclePolicyText of each AWS::ECR::Repository) and applied after every build by the
evaluator of tests/support/ecr_lifecycle.py, which implements ECR's documented evaluation
rules. The builds push to a local ECR (moto); the releases are written by the real release
record code (ops.release.record.record_release) to a local Parameter Store, which keeps the 100
most recent versions of each parameter like AWS does; "is the image already published" is
the build step's own check (ops.images.build.tag_exists).

The history: the api changes on every commit, the worker on every fourth; some commits fail
in dev and are never released; staging takes every fifth dev release, prod a few early ones,
then prod is frozen for 210 builds (more than the 200 images the catch-all rule keeps) and
finally reverted to its first release, which must come back as the very same digests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from config.model import DeliveryConfig
from config.names import release_tag
from infra.images import ServiceImage
from ops.images.build import tag_exists
from ops.release.record import Release, image_digests, record_release
from tests.support.assembly import Assembly, properties
from tests.support.ecr_lifecycle import Image, Rule, expired, parse_policy
from tests.support.registry import image_tags, push_image

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
FREEZE_BUILDS = 210  # prod untouched while dev and staging move on
FAILS_IN_DEV = 7  # every 7th commit fails its dev checks: built, never released
# ECR applies a policy within 24 hours; a build an hour, the policy applied every 6 builds.
LIFECYCLE_EVERY = 6


@dataclass
class Registry:
    """The local AWS of the pipeline account, and what the history has done to it."""

    ssm: Any
    ecr: Any
    config: DeliveryConfig
    policies: dict[str, list[Rule]]
    pushed_at: dict[str, dt.datetime] = field(default_factory=dict)
    pushed: dict[str, list[str]] = field(default_factory=dict)  # repository -> digests, in order
    released: set[str] = field(default_factory=set)  # named by a record at some point
    expired: set[str] = field(default_factory=set)
    now: dt.datetime = START

    def images(self, content: dict[str, int]) -> dict[str, ServiceImage]:
        """The images of a commit whose sources are at ``content`` (service -> version)."""
        project, pipeline = self.config.project.name, self.config.pipeline
        return {
            service: ServiceImage(
                service=service,
                account=pipeline.account,
                region=pipeline.region,
                repository_name=f"{project}/{service}",
                tag=hashlib.sha256(f"{service}:{version}".encode()).hexdigest(),
                context=Path("services"),
                dockerfile=f"{service}/Dockerfile",
            )
            for service, version in content.items()
        }

    def build(self, images: dict[str, ServiceImage], commit: str) -> None:
        self.now += dt.timedelta(hours=1)
        for image in images.values():
            if not tag_exists(self.ecr, image):
                digest = push_image(
                    self.ecr, repository=image.repository_name, tag=image.tag, build=commit
                )
                self.pushed_at[digest] = self.now
                self.pushed.setdefault(image.repository_name, []).append(digest)

    def release(self, environment: str, images: dict[str, ServiceImage], commit: str) -> None:
        release = Release(
            environment=environment,
            commit=commit,
            execution_id=commit,
            deployed_at=self.now.isoformat(),
            images=image_digests(self.ecr, images),
        )
        self.released |= {image["digest"] for image in release.images.values()}
        record_release(
            self.ssm,
            self.ecr,
            project=self.config.project.name,
            environments=[env.name for env in self.config.environments],
            release=release,
            images=images,
        )

    def apply_lifecycle(self) -> None:
        """What ECR does (within 24 hours; here after every build, the harshest timing)."""
        for repository, rules in self.policies.items():
            images = [
                Image(digest=digest, tags=frozenset(tags), pushed_at=self.pushed_at[digest])
                for digest, tags in image_tags(self.ecr, repository).items()
            ]
            for digest in expired(rules, images, self.now):
                self.ecr.batch_delete_image(
                    repositoryName=repository, imageIds=[{"imageDigest": digest}]
                )
                self.expired.add(digest)

    def referenced(self) -> dict[tuple[str, str], str]:
        """(repository, digest) -> the record naming it, over every retained version."""
        names: dict[tuple[str, str], str] = {}
        for env in self.config.environments:
            name = f"/{self.config.project.name}/releases/{env.name}"
            try:
                pages = self.ssm.get_paginator("get_parameter_history").paginate(Name=name)
                versions = [v for page in pages for v in page["Parameters"]]
            except self.ssm.exceptions.ParameterNotFound:
                continue
            for version in versions:
                value = json.loads(version["Value"])
                for service, image in value["images"].items():
                    repository = f"{self.config.project.name}/{service}"
                    names[(repository, image["digest"])] = f"{name}:{version['Version']}"
        return names

    def assert_referenced_images_exist(self, when: str) -> None:
        present = {
            (repository, digest)
            for repository in self.policies
            for digest in image_tags(self.ecr, repository)
        }
        gone = {key: record for key, record in self.referenced().items() if key not in present}
        assert not gone, f"{when}: images named by retained release records expired: {gone}"


@pytest.fixture
def registry(
    assembly: Assembly, config: DeliveryConfig, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Registry]:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    repositories = properties(assembly.pipeline_template, "AWS::ECR::Repository")
    policies = {
        r["RepositoryName"]: parse_policy(r["LifecyclePolicy"]["LifecyclePolicyText"])
        for r in repositories
    }
    with mock_aws():
        region = config.pipeline.region
        ecr = boto3.client("ecr", region_name=region)
        for repository in repositories:
            ecr.create_repository(
                repositoryName=repository["RepositoryName"],
                imageTagMutability=repository["ImageTagMutability"],
            )
        yield Registry(boto3.client("ssm", region_name=region), ecr, config, policies)


def _content(number: int) -> dict[str, int]:
    return {"api": number, "worker": number // 4}


def _plan(number: int, *, prod: bool) -> list[str]:
    if number % FAILS_IN_DEV == FAILS_IN_DEV - 1:
        return []
    return ["dev", *(["staging"] if number % 5 == 0 else []), *(["prod"] if prod else [])]


def _history() -> Iterator[tuple[int, dict[str, int], list[str]]]:
    """(commit number, source versions, environments it is released to), in order."""
    normal, frozen = range(1, 21), range(21, 21 + FREEZE_BUILDS)
    for number in normal:  # prod takes every tenth commit
        yield number, _content(number), _plan(number, prod=number % 10 == 0)
    for number in frozen:
        yield number, _content(number), _plan(number, prod=False)
    # `git revert` back to prod's first release: the same sources, so the same image tags.
    revert = frozen.stop
    yield revert, _content(10), ["dev", "staging", "prod"]
    for number in range(revert + 1, revert + 16):
        yield number, _content(number), _plan(number, prod=number % 10 == 0)


def _digests(registry: Registry, images: dict[str, ServiceImage]) -> dict[str, str]:
    return {name: image["digest"] for name, image in image_digests(registry.ecr, images).items()}


def test_released_images_never_expire_and_old_unreleased_ones_do(registry: Registry) -> None:
    first_prod: dict[str, str] = {}
    reverted: dict[str, str] = {}
    for number, content, environments in _history():
        images = registry.images(content)
        commit = f"{number:040x}"
        registry.build(images, commit)
        for environment in environments:
            registry.release(environment, images, commit)
        if number % LIFECYCLE_EVERY == 0:
            registry.apply_lifecycle()
            registry.assert_referenced_images_exist(f"after commit {number}")
        if number == 10:
            first_prod = _digests(registry, images)
        elif content == {"api": 10, "worker": 10 // 4}:
            reverted = _digests(registry, images)

    registry.apply_lifecycle()
    registry.assert_referenced_images_exist("at the end")
    # The revert redeployed exactly what prod first ran, not a rebuild.
    assert reverted == first_prod
    # Older than the newest images the catch-all rule keeps: unreleased ones are gone, and so
    # are released ones that no retained record names any more.
    old: set[str] = set()
    for repository, rules in registry.policies.items():
        (catch_all,) = [rule for rule in rules if rule.tag_status == "any"]
        old |= set(registry.pushed[repository][: -catch_all.count_number])
    referenced = {digest for _, digest in registry.referenced()}
    old_unreleased = old - registry.released
    assert old_unreleased and old_unreleased <= registry.expired
    assert old & registry.released - referenced and old & registry.released - referenced <= (
        registry.expired
    )
    for repository, rules in registry.policies.items():
        tags = image_tags(registry.ecr, repository)
        # The release tags sit on exactly the images the retained records name.
        protected = {digest for digest, found in tags.items() if release_tag(digest) in found}
        assert protected == {d for (r, d) in registry.referenced() if r == repository}
        (protecting,) = [rule for rule in rules if rule.patterns or rule.prefixes]
        assert len(protected) <= protecting.count_number
