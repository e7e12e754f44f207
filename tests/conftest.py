"""Session fixtures. The app is synthesized once per test run, shared by all xdist workers."""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from filelock import FileLock

from config.model import DEFAULT_CONFIG_FILE, DeliveryConfig, load_config
from config.paths import ROOT
from tests.support.assembly import Assembly, synthesize_or_fail
from tests.support.shared import shared_dir
from tests.support.source_artifact import (
    ARTIFACT_ASSEMBLY_ENV,
    WEB_DIST,
    build_step_pytest_args,
    export_source,
    prepare_build,
)

if TYPE_CHECKING:
    from tests.support.aws_world import World
    from tests.support.local_aws import LocalAws


def _synthesize_once(
    shared: Path, name: str, config_file: Path | None = None, root: Path = ROOT
) -> Path:
    outdir = shared / name
    with FileLock(str(shared / f"{name}.lock")):
        if not (outdir / "manifest.json").exists():
            synthesize_or_fail(outdir, config_file=config_file, root=root)
    return outdir


@pytest.fixture(scope="session")
def config() -> DeliveryConfig:
    return load_config()


@pytest.fixture(scope="session")
def raw_config() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_CONFIG_FILE.read_text(encoding="utf-8"))


# The test that runs the checkout-sensitive tests again inside the Source artifact, handing them
# this session's synthesis of it in ARTIFACT_ASSEMBLY_ENV.
ARTIFACT_RUN = (
    "tests/pipeline/test_source_artifact.py"
    "::test_the_build_steps_checkout_tests_pass_on_the_artifact"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Build step's `checkout` tests run once per session, where the pipeline runs them.

    A session that includes ARTIFACT_RUN runs them inside the Source artifact (no .git, git as
    CodeBuild has it); running them on the checkout as well would only pay for them twice.
    Run alone, or in a session without ARTIFACT_RUN, they run here as usual.
    """
    if os.environ.get(ARTIFACT_ASSEMBLY_ENV) or all(item.nodeid != ARTIFACT_RUN for item in items):
        return
    build_step = tuple(
        path if path.endswith(".py") else f"{path.rstrip('/')}/"
        for path in build_step_pytest_args()
    )
    there = [
        item
        for item in items
        if item.get_closest_marker("checkout") and item.nodeid.startswith(build_step)
    ]
    if there:
        config.hook.pytest_deselected(items=there)
        items[:] = [item for item in items if item not in there]


@pytest.fixture(scope="session")
def source_artifact(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """This checkout as the Build step finds it once its install phase has run."""
    shared = shared_dir(tmp_path_factory, worker_id)
    tree = shared / "source-artifact" / "tree"
    with FileLock(str(shared / "source-artifact.lock")):
        if not tree.exists():
            prepare_build(export_source(ROOT, tree), ROOT)
    return tree


@pytest.fixture(scope="session")
def assembly(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, source_artifact: Path
) -> Assembly:
    """The shipped environment file, synthesized by the real entry point from what the Build
    step receives (the Source artifact), as `make synth` does in the pipeline.

    tests/infra/test_determinism.py synthesizes the checkout itself and compares byte for byte,
    so no template, asset hash or image tag may depend on .git or on untracked files.
    """
    if handed_over := os.environ.get(ARTIFACT_ASSEMBLY_ENV):
        return Assembly(Path(handed_over))
    shared = shared_dir(tmp_path_factory, worker_id)
    return Assembly(_synthesize_once(shared, "cdk.out", root=source_artifact))


@pytest.fixture(scope="session")
def shared_account_assembly(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, raw_config: dict[str, Any]
) -> Iterator[Assembly]:
    """The system with every environment in the pipeline's account: its first environment alone.

    What the shared-account layout changes is the pipeline stack's cross-account parts (the
    artifact key and its grants), and the pipeline makes them only when some environment lives
    in another account (DeliveryConfig.cross_account). One environment shows that as well as
    three and synthesizes in a fraction of the time; the tests of this variant read the
    pipeline's template only.
    """
    import tomli_w  # noqa: PLC0415

    shared = shared_dir(tmp_path_factory, worker_id)
    config_file = shared / "shared-account.toml"
    with FileLock(str(shared / "shared-account.toml.lock")):
        if not config_file.exists():
            first, *_ = raw_config["environments"]
            document = {
                **raw_config,
                "environments": [{**first, "account": raw_config["pipeline"]["account"]}],
            }
            config_file.write_text(tomli_w.dumps(document), encoding="utf-8")
    yield Assembly(_synthesize_once(shared, "cdk.out.shared-account", config_file))


@pytest.fixture(scope="session")
def api_change_assembly(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Assembly:
    """This checkout with one line added to the API's code, synthesized: a release of
    application code alone, what most commits are."""
    shared = shared_dir(tmp_path_factory, worker_id)
    tree = shared / "api-change" / "tree"
    with FileLock(str(shared / "api-change-tree.lock")):
        if not tree.exists():
            # Built aside and moved in whole: a worker that fails half way leaves no tree.
            partial = tree.with_name("tree.partial")
            shutil.rmtree(partial, ignore_errors=True)
            export_source(ROOT, partial)
            shutil.copytree(ROOT / WEB_DIST, partial / WEB_DIST)
            service = partial / "services/api/todo_api/__init__.py"
            service.write_text(service.read_text(encoding="utf-8") + "\n# a new release\n")
            partial.rename(tree)
    return Assembly(_synthesize_once(shared, "cdk.out.api-change", root=tree))


@pytest.fixture(scope="session")
def existing_github_provider_arn(config: DeliveryConfig) -> str:
    return (
        f"arn:aws:iam::{config.pipeline.account}:oidc-provider/token.actions.githubusercontent.com"
    )


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    """One local AWS (moto's server, IAM enforced) per test process."""
    import logging  # noqa: PLC0415

    from tests.support.local_aws import LocalAws  # noqa: PLC0415

    # The server logs every request line; the decisions log is what the tests read.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    aws = LocalAws()
    yield aws
    aws.stop()


@pytest.fixture
def empty_world(
    local_aws: LocalAws, assembly: Assembly, config: DeliveryConfig, source_artifact: Path
) -> World:
    """A never-deployed system: every account bootstrapped (trusting the pipeline account),
    the pipeline stack deployed, no environment stack and no release yet."""
    from tests.support.aws_world import World  # noqa: PLC0415

    local_aws.reset()
    world = World(local_aws, assembly.root, source=source_artifact)
    world.empty(trusted_account=config.pipeline.account)
    return world
