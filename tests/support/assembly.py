"""Synthesize the real app once and read the cloud assembly it wrote."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from config.cloud_assembly import CloudAssembly, Template, read_cloud_assembly, read_json
from config.model import DEFAULT_CONFIG_FILE
from config.paths import ROOT
from ops.checkout import run_app

# The shipped environments, in promotion order: what the infra tests run once each for.
# The stacks every environment has (an edge stack joins them where WAF is on), in deploy order:
# what must never be replaced, then what may be (infra/stateful, infra/stateless).
COMPONENTS = ("stateful", "stateless")

# The top-level constructs of the stateful stack that make the network: the log key, the VPC and
# the provider of CDK's custom resource that empties the default security group.
NETWORK = ("LogKey", "Network", "Custom::VpcRestrictDefaultSGCustomResourceProvider")
# The construct ids of an environment's stacks (infra/stage.py), as resource paths name them.
_STACK_IDS = frozenset({"Stateful", "Stateless", "Edge"})

ENVIRONMENTS = [
    environment["name"]
    for environment in tomllib.loads(DEFAULT_CONFIG_FILE.read_text(encoding="utf-8"))[
        "environments"
    ]
]


def synthesize_or_fail(outdir: Path, *, config_file: Path | None = None, root: Path = ROOT) -> Path:
    """The entry point of the checkout ``root``, run as `cdk synth` runs it, into ``outdir``."""
    completed = run_app(root, outdir, config_file=config_file)
    if completed.returncode != 0:
        raise RuntimeError(f"synth failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return outdir


@dataclass(frozen=True)
class Assembly:
    """A synthesized assembly as the tests read it (config.cloud_assembly does the reading).

    ``template`` reads the file again: a test may change what it gets without touching another's.
    """

    root: Path

    @cached_property
    def cloud(self) -> CloudAssembly:
        return read_cloud_assembly(self.root)

    @cached_property
    def pipeline_template(self) -> Template:
        return dict(read_json(self.cloud.pipeline_stack().template_file))

    def stage_dir(self, environment: str) -> Path:
        (directory,) = {stack.directory for stack in self.cloud.environment_stacks(environment)}
        return directory

    def stack_artifacts(self, environment: str) -> dict[str, dict[str, Any]]:
        """Stack name -> its manifest entry, with "dir": the directory of that manifest."""
        return {
            stack.name: {**stack.artifact, "dir": stack.directory}
            for stack in self.cloud.environment_stacks(environment)
        }

    def template(self, stack_name: str) -> Template:
        return dict(read_json(self.cloud.stack(stack_name).template_file))

    def template_files(self) -> list[Path]:
        return sorted(self.root.rglob("*.template.json"))


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    """Resources of one type, by logical id (ids are only used to follow Refs, never pinned)."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == resource_type
    }


def top_construct(resource: dict[str, Any]) -> str:
    """The id of the construct directly below the stack that a resource belongs to (its
    ``aws:cdk:path`` metadata, e.g. ``Pipeline/prod/Stateful/Database/Cluster/Resource``)."""
    segments = str(resource.get("Metadata", {}).get("aws:cdk:path", "")).split("/")
    for index, segment in enumerate(segments[:-1]):
        if segment in _STACK_IDS:
            return segments[index + 1]
    raise ValueError(f"not a resource of an environment stack: {segments!r}")


def part(template: Template, *constructs: str) -> Template:
    """The template with only the resources of the given top-level constructs (``Network``,
    ``Database``, ``Services``...): what one concern of a merged stack holds. Outputs and the
    other sections stay whole."""
    return {
        **template,
        "Resources": {
            logical_id: resource
            for logical_id, resource in template.get("Resources", {}).items()
            if top_construct(resource) in constructs
        },
    }


def without(template: Template, *constructs: str) -> Template:
    """The template without the resources of the given top-level constructs."""
    kept = {top_construct(r) for r in template.get("Resources", {}).values()} - set(constructs)
    return part(template, *kept)


def properties(template: Template, resource_type: str) -> list[dict[str, Any]]:
    return [
        resource.get("Properties", {}) for resource in resources(template, resource_type).values()
    ]


def ref_target(template: Template, value: Any) -> dict[str, Any]:
    """The resource a {"Ref": id} or {"Fn::GetAtt": [id, attr]} points at."""
    if isinstance(value, dict) and "Ref" in value:
        return dict(template["Resources"][value["Ref"]])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return dict(template["Resources"][value["Fn::GetAtt"][0]])
    raise ValueError(f"not a reference: {value!r}")


def stack_output(assembly: Assembly, value: Any) -> Any:
    """What a cross-stack reference ({"Fn::GetStackOutput": ...}) resolves to: the value the
    producing stack's template gives that output."""
    if not (isinstance(value, dict) and "Fn::GetStackOutput" in value):
        raise ValueError(f"not a cross-stack reference: {value!r}")
    reference = value["Fn::GetStackOutput"]
    producer = assembly.template(reference["StackName"])
    return producer["Outputs"][reference["OutputName"]]["Value"]


def variant_assembly(assembly: Path, destination: Path) -> Path:
    """A copy of the cloud assembly whose templates and manifests a test may edit (the
    assets, large and unchanged, are linked)."""
    for directory, subdirectories, files in os.walk(assembly):
        source = Path(directory)
        target = destination / source.relative_to(assembly)
        target.mkdir(parents=True, exist_ok=True)
        for name in list(subdirectories):
            if name.startswith("asset."):
                (target / name).symlink_to(source / name)
                subdirectories.remove(name)
        for name in files:
            if name.endswith(".json"):
                (target / name).write_bytes((source / name).read_bytes())
            else:
                (target / name).symlink_to(source / name)
    return destination
