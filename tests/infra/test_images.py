"""Image tags are content fingerprints: stable for the same sources, new for any change the
image sees, and per service: a change to one service re-tags that service alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.paths import ROOT
from infra.images import ServiceImageError, service_images

NAMES = ("api", "worker")


@pytest.fixture
def services(tmp_path: Path) -> Path:
    copy = tmp_path / "services"
    shutil.copytree(
        ROOT / "services",
        copy,
        ignore=shutil.ignore_patterns("node_modules", "dist", "__pycache__"),
    )
    return copy


def _tags(services: Path, names: tuple[str, ...] = NAMES) -> dict[str, str]:
    images = service_images(
        project="todo",
        account="111111111111",
        region="eu-west-1",
        services_dir=services,
        names=names,
    )
    return {name: image.tag for name, image in images.items()}


def _touch(services: Path, relative: str) -> None:
    path = services / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write("\n# changed\n")


def _moved(services: Path, *changed: str) -> set[str]:
    """The services whose tag changes when the ``changed`` files do."""
    before = _tags(services)
    for relative in changed:
        _touch(services, relative)
    after = _tags(services)
    return {name for name in NAMES if after[name] != before[name]}


def test_image_uri_is_in_the_pipeline_account_repository_of_the_service(services: Path) -> None:
    api = service_images(
        project="todo",
        account="111111111111",
        region="eu-west-1",
        services_dir=services,
        names=["api"],
    )["api"]
    assert api.uri == f"111111111111.dkr.ecr.eu-west-1.amazonaws.com/todo/api:{api.tag}"
    assert api.repository_arn == "arn:aws:ecr:eu-west-1:111111111111:repository/todo/api"
    assert (api.context, api.dockerfile) == (services, "api/Dockerfile")
    assert len(api.tag) == 64


def test_only_the_named_services_have_images(services: Path) -> None:
    assert set(_tags(services, ("worker",))) == {"worker"}
    assert _tags(services, ("worker",))["worker"] == _tags(services)["worker"]


@pytest.mark.checkout  # the checkout's services/ as it is, whatever the build put there
def test_tag_does_not_depend_on_where_the_sources_are(services: Path) -> None:
    assert _tags(services) == _tags(ROOT / "services")


@pytest.mark.parametrize(
    ("changed", "moved"),
    [
        ("api/todo_api/__init__.py", {"api"}),
        ("worker/todo_worker/__init__.py", {"worker"}),
        ("api/todo_api/new_module.py", {"api"}),
        ("api/Dockerfile", {"api"}),
        ("worker/Dockerfile", {"worker"}),
        ("api/requirements.lock", {"api"}),
        ("worker/requirements.lock", {"worker"}),
        # The shared code both images copy.
        ("common/todo_common/__init__.py", {"api", "worker"}),
    ],
)
def test_a_change_re_tags_exactly_the_images_that_copy_the_file(
    services: Path, changed: str, moved: set[str]
) -> None:
    assert _moved(services, changed) == moved


@pytest.mark.parametrize(
    "changed",
    [
        "api/README.md",
        "worker/README.md",
        "api/requirements.in",  # the lock is what the image installs
        "common/requirements.in",
        "api/tests/test_api.py",
        "README.md",
        "web/README.md",
        "devstack/todo_devstack/__init__.py",
        "api/todo_api/__pycache__/x.pyc",
        "common/todo_common/module.pyc",
    ],
)
def test_a_file_no_image_copies_re_tags_nothing(services: Path, changed: str) -> None:
    assert _moved(services, changed) == set()


def test_the_ignore_file_beside_the_dockerfile_decides_what_the_tag_covers(
    services: Path,
) -> None:
    # Admitting the README (as Docker then would send it) makes it part of the tag.
    ignore = services / "api/Dockerfile.dockerignore"
    ignore.write_text(ignore.read_text(encoding="utf-8") + "!api/README.md\n", encoding="utf-8")
    assert _moved(services, "api/README.md") == {"api"}


@pytest.mark.parametrize(
    ("removed", "missing"),
    [
        ("worker/Dockerfile", "worker/Dockerfile"),
        ("worker/Dockerfile.dockerignore", "worker/Dockerfile.dockerignore"),
    ],
)
def test_a_named_service_without_its_dockerfile_or_ignore_file_is_one_clear_error(
    services: Path, removed: str, missing: str
) -> None:
    (services / removed).unlink()
    with pytest.raises(ServiceImageError) as raised:
        _tags(services)
    message = str(raised.value)
    assert "\n" not in message
    assert "'worker'" in message
    assert str(services / missing) in message


def test_a_named_service_without_a_folder_is_one_clear_error(services: Path) -> None:
    with pytest.raises(ServiceImageError, match=r"'billing' has no Dockerfile: .*billing/Docker"):
        _tags(services, ("api", "billing"))


def _copied_sources(dockerfile: Path) -> list[str]:
    """The context paths a Dockerfile's COPY instructions read (not those from a stage)."""
    sources: list[str] = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            sources.extend(word for word in words[1:-1] if not word.startswith("--"))
    return sources


@pytest.mark.parametrize("service", NAMES)
def test_every_path_the_dockerfile_copies_is_in_the_tag(services: Path, service: str) -> None:
    # What the ignore file leaves out, Docker does not send: the build would fail on it.
    sources = _copied_sources(services / service / "Dockerfile")
    assert sources
    for source in sources:
        probe = source if (services / source).is_file() else f"{source}/probe.py"
        assert service in _moved(services, probe), source
