#!/usr/bin/env python3
"""The pipeline's critical path, read from the synthesized pipeline (`make synth` first).

For each environment it prints the sequential CodeBuild levels from the Source action to the
environment's first deploy action, the CloudFormation levels inside the environment's stage,
and a modelled time from a commit to that first deploy. A level is one run order of one stage:
its actions run in parallel, the levels one after the other. Run with `make bench`; figures
only, nothing here is asserted.

The modelled time counts each level at its slowest action's fixed cost and excludes what a
person or the calendar decides (approvals, bake minutes). The costs are assumptions, printed
with the figures, because no AWS document states them: an action's queueing, provisioning and
source download (CodeBuild's QueuedDuration, ProvisioningDuration and DownloadSourceDuration
metrics, docs.aws.amazon.com/codebuild/latest/userguide/cloudwatch_metrics-codebuild.html) and
a change set's creation and execution on a stack that changes little. Measure yours from
those metrics and CloudFormation's stack events, and set BENCH_<NAME>_SECONDS to them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.cloud_assembly import (
    PIPELINE_TYPE,
    AssemblyNotFoundError,
    codepipeline,
    read_cloud_assembly,
)
from config.exit_codes import BAD_INPUT, SUCCESS
from config.paths import ASSEMBLY_DIR

# Seconds a level of each kind costs before its work (the assumptions named above).
DEFAULT_COSTS = {
    "SOURCE": 30.0,  # the CodeConnections source action hands over the ZIP
    "CODEBUILD": 90.0,  # queue + provisioning + source download: "a minute or two"
    "CHANGE_SET": 30.0,  # CreateChangeSet on a stack that changes little
    "EXECUTE": 60.0,  # ExecuteChangeSet until UPDATE_COMPLETE
    "APPROVAL": 0.0,  # a person decides: not modelled
}
_EXECUTE_MODES = frozenset({"CHANGE_SET_EXECUTE"})


@dataclass(frozen=True)
class Level:
    """One run order of one stage: actions that run side by side."""

    stage: str
    run_order: int
    actions: tuple[tuple[str, str], ...]  # (action name, kind)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(kind for _, kind in self.actions)


@dataclass(frozen=True)
class EnvironmentPath:
    environment: str
    codebuild_levels_before_deploy: int
    cloudformation_levels: int
    modelled_seconds: float


def _kind(action: Mapping[str, Any]) -> str:
    type_id = action["ActionTypeId"]
    if type_id["Category"] == "Source":
        return "SOURCE"
    if type_id["Category"] == "Approval":
        return "APPROVAL"
    if type_id["Provider"] == "CodeBuild":
        return "CODEBUILD"
    if type_id["Provider"] == "CloudFormation":
        mode = action.get("Configuration", {}).get("ActionMode")
        return "EXECUTE" if mode in _EXECUTE_MODES else "CHANGE_SET"
    return str(type_id["Provider"]).upper()


def levels(pipeline: Mapping[str, Any]) -> list[Level]:
    """The pipeline's levels in the order CodePipeline runs them."""
    found = []
    for stage in pipeline["Stages"]:
        orders = sorted({action.get("RunOrder", 1) for action in stage["Actions"]})
        for order in orders:
            actions = tuple(
                (action["Name"], _kind(action))
                for action in stage["Actions"]
                if action.get("RunOrder", 1) == order
            )
            found.append(Level(stage=stage["Name"], run_order=order, actions=actions))
    return found


def _cost(level: Level, costs: Mapping[str, float]) -> float:
    return max(costs.get(kind, 0.0) for kind in level.kinds)


def environment_path(
    all_levels: Sequence[Level], environment: str, costs: Mapping[str, float] = DEFAULT_COSTS
) -> EnvironmentPath:
    """The path from Source to ``environment``'s first deploy action, and its stage's depth."""
    deploy_kinds = {"CHANGE_SET", "EXECUTE"}
    first_deploy = next(
        index
        for index, level in enumerate(all_levels)
        if level.stage == environment and level.kinds & deploy_kinds
    )
    before = all_levels[:first_deploy]
    return EnvironmentPath(
        environment=environment,
        codebuild_levels_before_deploy=sum("CODEBUILD" in level.kinds for level in before),
        cloudformation_levels=sum(
            bool(level.kinds & deploy_kinds) for level in all_levels if level.stage == environment
        ),
        modelled_seconds=sum(_cost(level, costs) for level in before),
    )


def _costs(environ: Mapping[str, str]) -> dict[str, float]:
    return {
        kind: float(environ.get(f"BENCH_{kind}_SECONDS", default))
        for kind, default in DEFAULT_COSTS.items()
    }


def pipeline_resource(assembly: Path) -> dict[str, Any]:
    """The synthesized AWS::CodePipeline::Pipeline's properties."""
    try:
        stack = read_cloud_assembly(assembly).pipeline_stack()
    except KeyError:
        raise AssemblyNotFoundError(f"{assembly}: no {PIPELINE_TYPE} in the assembly") from None
    return codepipeline(stack.template) or {}


def report(pipeline: Mapping[str, Any], costs: Mapping[str, float]) -> str:
    all_levels = levels(pipeline)
    stages = [stage["Name"] for stage in pipeline["Stages"]]
    environments = [
        name
        for name in stages
        if any(lv.stage == name and "EXECUTE" in lv.kinds for lv in all_levels)
    ]
    assumed = ", ".join(f"{kind.lower()} {seconds:g} s" for kind, seconds in costs.items())
    lines = [
        "critical path of the synthesized pipeline (levels run one after another)",
        f"assumed cost per level: {assumed} (BENCH_<KIND>_SECONDS overrides)",
        f"{'environment':<14}{'CodeBuild levels before deploy':>32}{'CFN levels':>12}"
        f"{'modelled to deploy':>20}",
    ]
    for environment in environments:
        path = environment_path(all_levels, environment, costs)
        lines.append(
            f"{path.environment:<14}{path.codebuild_levels_before_deploy:>32}"
            f"{path.cloudformation_levels:>12}{path.modelled_seconds / 60:>17.1f} min"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    assembly = Path(args[0]) if args else ASSEMBLY_DIR
    try:
        pipeline = pipeline_resource(assembly)
        costs = _costs(os.environ)
    except AssemblyNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    except ValueError as error:
        print(f"error: a BENCH_<KIND>_SECONDS value is not a number ({error})", file=sys.stderr)
        return BAD_INPUT
    print(report(pipeline, costs))
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
