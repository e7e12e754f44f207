"""`make new-service` (ops.new_service): a third service is one folder and one registry table.

The guide (docs/adding-a-service.md) is this test: in a copy of the tree as the pipeline gets
it, the generator adds a notifier, the copy synthesizes, and the policy gate's checks pass.
Only the new folder and the environment file change, and of the images only the new one is
new: the api's and the worker's tags are the ones this checkout synthesizes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from config.exit_codes import BAD_INPUT, SUCCESS
from config.model import load_config
from config.paths import ROOT
from ops.new_service import main
from tests.support.assembly import Assembly, properties, synthesize_or_fail
from tests.support.source_artifact import export_source, files, prepare_build

# The module synthesizes its own app once: on one worker.
pytestmark = pytest.mark.xdist_group("notifier-tree")

NAME = "notifier"
CONSUMES = ["todo.created", "todo.updated", "todo.completed", "todo.deleted"]


def _copy_of_the_registry(tmp_path: Path) -> Path:
    """The parts the generator reads and writes: the environment file and the services."""
    root = tmp_path / "tree"
    (root / "config").mkdir(parents=True)
    (root / "config" / "environments.toml").write_bytes(
        (ROOT / "config" / "environments.toml").read_bytes()
    )
    for service in ("common", *load_config().services):
        for source in (ROOT / "services" / service).rglob("*"):
            if source.is_file() and "__pycache__" not in source.parts:
                target = (
                    root / "services" / service / source.relative_to(ROOT / "services" / service)
                )
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
    return root


def test_the_generator_adds_one_folder_and_one_registry_entry(tmp_path: Path) -> None:
    root = _copy_of_the_registry(tmp_path)
    before = files(root)
    assert main(["--root", str(root), "--name", NAME, "--consumes", *CONSUMES]) == SUCCESS
    after = files(root)
    changed = {path for path in after if before.get(path) != after[path]}
    assert {path for path in changed if not path.startswith(f"services/{NAME}/")} == {
        "config/environments.toml"
    }
    config = load_config(root / "config" / "environments.toml")
    notifier = config.consumers[NAME]
    assert notifier.consumes == CONSUMES and not notifier.database
    assert notifier.health_command == ["python", "-m", f"todo_{NAME}.health"]
    assert all(NAME in env.services for env in config.environments)
    assert {
        "Dockerfile",
        "Dockerfile.dockerignore",
        "requirements.in",
        "requirements.lock",
        f"todo_{NAME}/__main__.py",
        f"todo_{NAME}/health.py",
    } <= {path.removeprefix(f"services/{NAME}/") for path in changed}
    # No placeholder survives the rendering.
    assert not [path for path in changed if b"@@" in after[path]]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--name", "Notifier", "--consumes", "todo.created"], "must be 2 to 21 lower-case"),
        (["--name", "worker", "--consumes", "todo.created"], "services/worker already exists"),
        (
            ["--name", NAME, "--consumes", "TodoCreated"],
            "config/environments.toml: [services.notifier]: field 'consumes.0': String should "
            "match pattern",
        ),
    ],
)
def test_bad_input_is_refused_in_one_line_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    root = _copy_of_the_registry(tmp_path)
    before = files(root)
    assert main(["--root", str(root), *arguments]) == BAD_INPUT
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error
    assert files(root) == before


@pytest.fixture(scope="module")
def notifier_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Source artifact of this checkout, with the notifier generated into it."""
    tree = prepare_build(export_source(ROOT, tmp_path_factory.mktemp("guide") / "tree"), ROOT)
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.new_service",
            "--root",
            str(tree),
            "--name",
            NAME,
            "--consumes",
            *CONSUMES,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    return tree


@pytest.fixture(scope="module")
def notifier_assembly(notifier_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    outdir = tmp_path_factory.mktemp("guide-cdk.out")
    return Assembly(synthesize_or_fail(outdir, root=notifier_tree))


def _images(assembly: Assembly, environment: str) -> dict[str, str]:
    template = assembly.template(f"todo-{environment}-stateless")
    return {
        container["Name"]: json.dumps(container["Image"], sort_keys=True)
        for task in properties(template, "AWS::ECS::TaskDefinition")
        for container in task["ContainerDefinitions"]
    }


def test_the_notifier_deploys_beside_the_others_and_moves_no_other_image(
    notifier_assembly: Assembly, assembly: Assembly
) -> None:
    for environment in ("dev", "staging", "prod"):
        before, after = _images(assembly, environment), _images(notifier_assembly, environment)
        assert set(after) == {*before, NAME}
        assert {name: after[name] for name in before} == before
    subscriptions = properties(
        notifier_assembly.template("todo-dev-stateful"), "AWS::SNS::Subscription"
    )
    assert sorted(len(s["FilterPolicy"]["type"]) for s in subscriptions) == [4, 4]
    repositories = {
        repository["RepositoryName"]
        for repository in properties(notifier_assembly.pipeline_template, "AWS::ECR::Repository")
    }
    assert f"todo/{NAME}" in repositories


def test_the_policy_gate_passes_with_the_notifier(
    notifier_assembly: Assembly, assembly: Assembly, tmp_path: Path
) -> None:
    """The gate's checks over the notifier's assembly. The templates the notifier leaves
    byte-identical are this checkout's, which tests/policies/test_gate.py gates already, so
    cfn-lint and checkov read only the seven it changes; cdk-nag and the cross-stack grant
    checks read the whole assembly."""
    from policies.checks.grants.model import load_cloud_assembly  # noqa: PLC0415
    from policies.checks.grants.runner import run_grant_checks  # noqa: PLC0415
    from policies.gate import (  # noqa: PLC0415
        grant_findings,
        nag_report,
        run_cfn_lint,
        run_checkov,
        templates_in,
    )

    changed = []
    for template in templates_in(notifier_assembly.root):
        relative = template.relative_to(notifier_assembly.root)
        before = assembly.root / relative
        if not before.exists() or before.read_bytes() != template.read_bytes():
            copy = tmp_path / "changed" / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(template.read_bytes())
            changed.append(copy)
    changed_names = sorted(path.name.split(".")[0] for path in changed)
    # The pipeline; in each environment the stateful stack (its queue's subscription) and the
    # stateless one (its service and alarms).
    assert len(changed) == 1 + 3 * 2, changed_names
    assert nag_report(notifier_assembly.root)[0] == []
    assert run_cfn_lint(changed) == []
    checkov = run_checkov(tmp_path / "changed")
    assert checkov.passed > 0 and checkov.failed == [], checkov.failed
    grants = run_grant_checks(load_cloud_assembly(notifier_assembly.root))
    assert grant_findings(grants) == []


def test_the_generated_service_passes_lint(notifier_tree: Path) -> None:
    """What `make lint` runs on a service: ruff, and on its Dockerfile hadolint and the
    base-image rules (a digest-pinned ECR Public base)."""
    service = notifier_tree / "services" / NAME
    ruff = ROOT / ".venv" / "bin" / "ruff"
    dockerfile = str(service / "Dockerfile")
    commands = [
        [str(ruff), "check", str(service)],
        [str(ruff), "format", "--check", str(service)],
        [sys.executable, "-m", "policies.images", dockerfile],
        [str(ROOT / ".venv-tools" / "bin" / "hadolint"), dockerfile],
    ]
    for command in commands:
        result = subprocess.run(
            command, cwd=notifier_tree, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, (command, result.stdout + result.stderr)


def test_each_size_lands_in_its_own_environment_above_the_next_ones_comments() -> None:
    from ops.new_service import size_table, with_service  # noqa: PLC0415

    text = (
        '[project]\nname = "x"\n\n# Environments, in order.\n\n'
        '[[environments]]  # first\nname = "a"\n\n# the second one\n'
        '[[environments]]\nname = "b"\n# trailing\n'
    )
    result = with_service(
        text,
        registry="[services.n]\nkind = 'consumer'\n\n",
        sizes=[size_table("n", spot=True), size_table("n", spot=False)],
    )
    parsed = tomllib.loads(result)
    assert [env["services"]["n"]["spot"] for env in parsed["environments"]] == [True, False]
    assert parsed["services"]["n"]["kind"] == "consumer"
    # A comment still introduces what it introduced.
    lines = result.splitlines()
    assert lines[lines.index("# the second one") + 1] == "[[environments]]"
    assert lines[lines.index("# Environments, in order.") + 2].startswith("[[environments]]")
