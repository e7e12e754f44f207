"""Image tags are content fingerprints: stable for the same sources, new for any change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.paths import ROOT
from infra.images import service_images


@pytest.fixture
def services(tmp_path: Path) -> Path:
    copy = tmp_path / "services"
    shutil.copytree(
        ROOT / "services",
        copy,
        ignore=shutil.ignore_patterns("node_modules", "dist", "__pycache__"),
    )
    return copy


def _tags(services: Path) -> dict[str, str]:
    images = service_images(
        project="todo", account="111111111111", region="eu-west-1", services_dir=services
    )
    return {name: image.tag for name, image in images.items()}


def test_image_uri_is_in_the_pipeline_account_repository_of_the_service(services: Path) -> None:
    api = service_images(
        project="todo", account="111111111111", region="eu-west-1", services_dir=services
    )["api"]
    assert api.uri == f"111111111111.dkr.ecr.eu-west-1.amazonaws.com/todo/api:{api.tag}"
    assert api.repository_arn == "arn:aws:ecr:eu-west-1:111111111111:repository/todo/api"
    assert len(api.tag) == 64


@pytest.mark.checkout  # the checkout's services/ as it is, whatever the build put there
def test_tag_does_not_depend_on_where_the_sources_are(services: Path) -> None:
    assert _tags(services) == _tags(ROOT / "services")


def test_source_outside_the_build_context_does_not_change_the_tag(services: Path) -> None:
    before = _tags(services)
    (services / "web" / "README.md").write_text("changed", encoding="utf-8")
    (services / "api" / "todo_api" / "__pycache__").mkdir(exist_ok=True)
    (services / "api" / "todo_api" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert _tags(services) == before


@pytest.mark.parametrize(
    "changed", ["api/todo_api/__init__.py", "api/Dockerfile", "api/requirements.lock"]
)
def test_any_change_the_image_sees_gives_a_new_tag(services: Path, changed: str) -> None:
    before = _tags(services)
    with (services / changed).open("a", encoding="utf-8") as file:
        file.write("\n# changed\n")
    assert _tags(services)["api"] != before["api"]
