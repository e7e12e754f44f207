"""A readable plan of what a synthesized cloud assembly will deploy, and in which order.

`python -m ops.review.plan cdk.out` reads only the assembly (manifests and templates), so the
plan shows what was really synthesized, not what the code meant to synthesize.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.cloud_assembly import (
    PIPELINE,
    PIPELINE_TYPE,
    SynthesizedStack,
    codepipeline,
    read_cloud_assembly,
)
from config.exit_codes import BAD_INPUT, SUCCESS
from config.paths import ASSEMBLY_DIR
from ops.common import write_atomically


@dataclass(frozen=True, kw_only=True)
class StackPlan:
    name: str
    resources: int
    termination_protection: bool


@dataclass(frozen=True, kw_only=True)
class EnvironmentPlan:
    name: str
    account: str
    region: str
    stacks: list[StackPlan]


@dataclass(frozen=True, kw_only=True)
class ActionPlan:
    name: str
    category: str
    run_order: int


@dataclass(frozen=True, kw_only=True)
class StagePlan:
    name: str
    actions: list[ActionPlan]
    rolls_back: bool = False
    entry_rules: tuple[str, ...] = ()  # "CloudWatchAlarm todo-dev/health", "DeploymentWindow ..."

    @property
    def conditions(self) -> str:
        """What gates and undoes the stage, in one line ("" when nothing does)."""
        parts = [f"entered if {' and '.join(self.entry_rules)}"] if self.entry_rules else []
        if self.rolls_back:
            parts.append("rolls back on failure")
        return "; ".join(parts)

    @property
    def approvals(self) -> list[ActionPlan]:
        return [action for action in self.actions if action.category == "Approval"]


@dataclass(frozen=True, kw_only=True)
class PipelinePlan:
    name: str
    account: str
    region: str
    pipeline_type: str
    stages: list[StagePlan]


@dataclass(frozen=True, kw_only=True)
class Plan:
    pipeline: PipelinePlan
    environments: list[EnvironmentPlan]


def _rule_text(rule: dict[str, Any]) -> str:
    configuration = rule.get("Configuration", {})
    provider = rule["RuleTypeId"]["Provider"]
    if provider == "CloudWatchAlarm":
        return f"{configuration.get('AlarmName')} not in ALARM"
    if provider == "DeploymentWindow":
        return f"inside {configuration.get('Cron')} ({configuration.get('TimeZone', 'UTC')})"
    return f"{provider} {rule.get('Name', '')}".strip()


def _pipeline_plan(stack: SynthesizedStack) -> PipelinePlan | None:
    properties = codepipeline(stack.template)
    if properties is None:
        return None
    stages = [
        StagePlan(
            name=stage["Name"],
            actions=sorted(
                (
                    ActionPlan(
                        name=action["Name"],
                        category=action["ActionTypeId"]["Category"],
                        run_order=action.get("RunOrder", 1),
                    )
                    for action in stage["Actions"]
                ),
                key=lambda action: (action.run_order, action.name),
            ),
            rolls_back=stage.get("OnFailure", {}).get("Result") == "ROLLBACK",
            entry_rules=tuple(
                _rule_text(rule)
                for condition in stage.get("BeforeEntry", {}).get("Conditions", [])
                for rule in condition.get("Rules", [])
            ),
        )
        for stage in properties["Stages"]
    ]
    return PipelinePlan(
        name=properties.get("Name", "(generated name)"),
        account=stack.account,
        region=stack.region,
        pipeline_type=properties.get("PipelineType", "V1"),
        stages=stages,
    )


def _environment_plan(name: str, stacks: list[SynthesizedStack]) -> EnvironmentPlan:
    return EnvironmentPlan(
        name=name,
        account=stacks[0].account,
        region=stacks[0].region,
        stacks=[
            StackPlan(
                name=stack.name,
                resources=len(stack.template.get("Resources", {})),
                termination_protection=stack.termination_protection,
            )
            for stack in stacks
        ],
    )


def read_plan(assembly: Path) -> Plan:
    cloud = read_cloud_assembly(assembly)
    pipeline = None
    for stack in cloud.environment_stacks(PIPELINE):
        pipeline = pipeline or _pipeline_plan(stack)
    if pipeline is None:
        raise ValueError(f"{assembly}: no stack defines an {PIPELINE_TYPE}")

    environments = [
        _environment_plan(name, cloud.environment_stacks(name))
        for name in cloud.environments
        if name != PIPELINE
    ]
    by_stage_order = {stage.name: index for index, stage in enumerate(pipeline.stages)}
    environments.sort(key=lambda env: by_stage_order.get(env.name, len(by_stage_order)))
    return Plan(pipeline=pipeline, environments=environments)


def _sequence(stage: StagePlan) -> str:
    """Actions in run order: "a -> b + c" (b and c run together); approvals stand out."""
    steps: dict[int, list[str]] = {}
    for action in stage.actions:
        name = f"[manual approval: {action.name}]" if action.category == "Approval" else action.name
        steps.setdefault(action.run_order, []).append(name)
    return " -> ".join(" + ".join(names) for _, names in sorted(steps.items()))


def render(plan: Plan) -> str:
    pipeline = plan.pipeline
    lines = [
        f"Pipeline {pipeline.name}  aws://{pipeline.account}/{pipeline.region}  "
        f"(CodePipeline {pipeline.pipeline_type}, self-mutating)",
        "",
        "Stage order:",
    ]
    for number, stage in enumerate(pipeline.stages, start=1):
        lines.append(f"  {number}. {stage.name:<15} {_sequence(stage)}")
        if stage.conditions:
            lines.append(f"     {'':<15} ({stage.conditions})")
    lines += ["", "Environments:"]
    for env in plan.environments:
        lines.append(f"  {env.name:<8} aws://{env.account}/{env.region}")
        for stack in env.stacks:
            protection = "  [termination protection]" if stack.termination_protection else ""
            lines.append(f"           {stack.name:<32} {stack.resources:>4} resources{protection}")
    return "\n".join(lines)


def render_mermaid(plan: Plan) -> str:
    """The pipeline as a Mermaid flowchart: one box per stage, its actions in run order."""
    lines = ["```mermaid", "flowchart TD"]
    previous = None
    for index, stage in enumerate(plan.pipeline.stages, start=1):
        groups: dict[int, list[ActionPlan]] = {}
        for action in stage.actions:
            groups.setdefault(action.run_order, []).append(action)
        title = f"{index}. {stage.name}" + (
            f"<br/><i>{stage.conditions}</i>" if stage.conditions else ""
        )
        lines.append(f'  subgraph s{index}["{title}"]')
        nodes = []
        for order, actions in sorted(groups.items()):
            node = f"s{index}a{order}"
            label = "<br/>".join(action.name for action in actions)
            if any(action.category == "Approval" for action in actions):
                lines.append(f'    {node}{{{{"manual approval<br/>{label}"}}}}')
            else:
                lines.append(f'    {node}["{label}"]')
            nodes.append(node)
        if len(nodes) > 1:
            lines.append("    " + " --> ".join(nodes))
        lines.append("  end")
        if previous:
            lines.append(f"  {previous} --> s{index}")
        previous = f"s{index}"
    lines.append("```")
    return "\n".join(lines)


DIAGRAM_START = "<!-- generated by `make docs` from cdk.out: do not edit -->"
DIAGRAM_END = "<!-- end of generated diagram -->"


def with_diagram(document: str, diagram: str) -> str:
    """``document`` with the text between the diagram markers replaced by ``diagram``."""
    head, start, rest = document.partition(DIAGRAM_START)
    _, end, tail = rest.partition(DIAGRAM_END)
    if not start or not end:
        raise ValueError("the document has no generated-diagram markers")
    return f"{head}{DIAGRAM_START}\n{diagram}\n{DIAGRAM_END}{tail}"


def write_diagram(document: Path, plan: Plan) -> None:
    """Regenerate the diagram between the markers of ``document`` (docs/pipeline.md) in place."""
    text = document.read_text(encoding="utf-8")
    write_atomically(document, with_diagram(text, render_mermaid(plan)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the plan read from a cloud assembly")
    parser.add_argument("assembly", nargs="?", type=Path, default=ASSEMBLY_DIR)
    parser.add_argument("--mermaid", action="store_true", help="print the pipeline diagram")
    parser.add_argument(
        "--write-doc", type=Path, help="regenerate the diagram in this document instead"
    )
    args = parser.parse_args(argv)
    try:
        plan = read_plan(args.assembly)
        if args.write_doc:
            write_diagram(args.write_doc, plan)
            return SUCCESS
    except (FileNotFoundError, ValueError) as error:
        print(f"plan: {error}", file=sys.stderr)
        return BAD_INPUT
    print(render_mermaid(plan) if args.mermaid else render(plan))
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
