"""bench.critical_path reads the pipeline's levels as CodePipeline runs them."""

from __future__ import annotations

from typing import Any

import pytest

from bench.critical_path import DEFAULT_COSTS, environment_path, levels, main, pipeline_resource
from config.exit_codes import BAD_INPUT, SUCCESS
from config.model import DeliveryConfig
from tests.support.assembly import Assembly


def _action(name: str, order: int, category: str, provider: str, mode: str = "") -> Any:
    configuration = {"ActionMode": mode} if mode else {}
    return {
        "Name": name,
        "RunOrder": order,
        "ActionTypeId": {"Category": category, "Provider": provider},
        "Configuration": configuration,
    }


def _build(name: str, order: int = 1) -> Any:
    return _action(name, order, "Build", "CodeBuild")


def _deploy(name: str, order: int, mode: str) -> Any:
    return _action(name, order, "Deploy", "CloudFormation", mode)


PIPELINE = {
    "Stages": [
        {"Name": "Source", "Actions": [_action("Source", 1, "Source", "CodeStarSourceConnection")]},
        # Two builds side by side are one level.
        {"Name": "Build", "Actions": [_build("Synth"), _build("Images")]},
        {
            "Name": "dev",
            "Actions": [
                _deploy("a.Prepare", 1, "CHANGE_SET_REPLACE"),
                _deploy("b.Prepare", 1, "CHANGE_SET_REPLACE"),
                _deploy("a.Deploy", 2, "CHANGE_SET_EXECUTE"),
                _build("Verify-dev", 3),
            ],
        },
        {
            "Name": "prod",
            "Actions": [
                _build("ChangeReport-prod", 1),
                _action("Approve-prod", 2, "Approval", "Manual"),
                _deploy("a.Prepare", 3, "CHANGE_SET_REPLACE"),
                _deploy("a.Deploy", 4, "CHANGE_SET_EXECUTE"),
            ],
        },
    ]
}


def test_parallel_actions_are_one_level_and_approvals_cost_nothing() -> None:
    found = levels(PIPELINE)
    assert [(level.stage, level.run_order) for level in found] == [
        ("Source", 1),
        ("Build", 1),
        ("dev", 1),
        ("dev", 2),
        ("dev", 3),
        ("prod", 1),
        ("prod", 2),
        ("prod", 3),
        ("prod", 4),
    ]
    dev = environment_path(found, "dev")
    assert (dev.codebuild_levels_before_deploy, dev.cloudformation_levels) == (1, 2)
    assert dev.modelled_seconds == DEFAULT_COSTS["SOURCE"] + DEFAULT_COSTS["CODEBUILD"]
    prod = environment_path(found, "prod")
    # Build, dev's verification and prod's change report; dev's two deploy levels.
    assert prod.codebuild_levels_before_deploy == 3
    assert prod.modelled_seconds == (
        DEFAULT_COSTS["SOURCE"]
        + 3 * DEFAULT_COSTS["CODEBUILD"]
        + DEFAULT_COSTS["CHANGE_SET"]
        + DEFAULT_COSTS["EXECUTE"]
    )


def test_the_report_has_a_row_per_environment_of_the_synthesized_pipeline(
    assembly: Assembly, config: DeliveryConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(assembly.root)]) == SUCCESS
    rows = {
        line.split()[0]: line.split()[1:3]
        for line in capsys.readouterr().out.splitlines()
        if line.split() and line.split()[0] in {env.name for env in config.environments}
    }
    assert list(rows) == [env.name for env in config.environments]
    first, *later = [int(codebuild) for codebuild, _ in rows.values()]
    # Each later environment waits for at least its predecessor's path.
    assert all(b > a for a, b in zip([first, *later], later, strict=False))


def test_the_synthesized_pipeline_reaches_prod_within_six_codebuild_levels(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    """Issue 14's target for the pipeline's shape (13 before it): Build (Synth beside Images),
    the self-mutation, the file assets, then one level per environment before the last: its
    Verify action beside the next environment's change report."""
    found = levels(pipeline_resource(assembly.root))
    paths = [environment_path(found, env.name) for env in config.environments]
    assert [path.codebuild_levels_before_deploy for path in paths] == [
        3 + index for index in range(len(paths))
    ]
    assert paths[-1].codebuild_levels_before_deploy <= 6


def test_a_missing_assembly_is_one_line(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == BAD_INPUT
    assert capsys.readouterr().err.count("\n") == 1
