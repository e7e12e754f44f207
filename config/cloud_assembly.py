"""The synthesized cloud assembly (cdk.out), read: every stack, where it deploys, its template.

The one reader of what `cdk synth` wrote, for every layer that looks at it: ops/ (plans, diffs,
change reports, drift, the first deployment), the policy gate's grant checks and the tests.
The root manifest.json lists the pipeline's own stacks and one nested assembly per stage (an
environment); each nested manifest lists that environment's stacks, each with its account,
region, stack name and template file. Plain JSON: no CDK, no AWS SDK, so it sits in the bottom
layer where policies/ can import it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

STACK_ARTIFACT = "aws:cloudformation:stack"
NESTED_ASSEMBLY = "cdk:cloud-assembly"
# The environment of the stacks in the root assembly: the pipeline and its support stacks.
PIPELINE = "pipeline"
PIPELINE_TYPE = "AWS::CodePipeline::Pipeline"
# CDK names a stage's nested assembly after the stage's construct path, "/" written as "-".
_NESTED_PREFIX = "assembly-"

Template = dict[str, Any]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True, kw_only=True)
class TemplateDestination:
    bucket: str
    key: str
    region: str
    role_arn: str  # the bootstrap file-publishing role

    @property
    def url(self) -> str:
        """The HTTPS URL CloudFormation's TemplateURL takes (virtual-hosted style)."""
        return f"https://{self.bucket}.s3.{self.region}.{dns_suffix(self.region)}/{self.key}"


@dataclass(frozen=True, kw_only=True)
class SynthesizedStack:
    """One stack artifact of the assembly; its template is read when first asked for."""

    artifact_id: str  # the manifest's key
    display_name: str  # the construct path, what `cdk deploy` names the stack by
    name: str  # the CloudFormation stack name
    account: str
    region: str
    environment: str  # PIPELINE, or the environment whose stage holds the stack
    directory: Path  # the (nested) assembly directory of the manifest that lists it
    template_file: Path
    termination_protection: bool
    # The manifest entry as written, for what this type does not name.
    artifact: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def location(self) -> tuple[str, str]:
        """(account, region) the stack deploys to."""
        return self.account, self.region

    @cached_property
    def template(self) -> Template:
        return dict(read_json(self.template_file))

    @property
    def dependencies(self) -> tuple[str, ...]:
        """The artifact ids of the stacks this one deploys after (its assets left out)."""
        return tuple(
            dependency
            for dependency in self.artifact.get("dependencies", [])
            if not dependency.endswith(".assets")
        )

    def _arn(self, key: str) -> str:
        value = str(self.artifact["properties"][key])
        return value.replace("${AWS::Partition}", partition_of(self.region))

    @property
    def deploy_role_arn(self) -> str:
        """The role `cdk deploy` and the pipeline's deploy actions create change sets with."""
        return self._arn("assumeRoleArn")

    @property
    def execution_role_arn(self) -> str:
        """The role CloudFormation deploys the stack's resources with."""
        return self._arn("cloudFormationExecutionRoleArn")

    @property
    def template_destination(self) -> TemplateDestination:
        """Where `cdk deploy` publishes the template (the bootstrap bucket) and the role that
        may write there. The pipeline never publishes templates (its deploy actions read them
        from the cloud assembly artifact), so a reader that needs them there uploads them."""
        manifest = read_json(self.directory / f"{self.artifact_id}.assets.json")
        template = self.artifact["properties"]["templateFile"]
        for entry in manifest.get("files", {}).values():
            if entry["source"].get("path") == template:
                (destination,) = entry["destinations"].values()
                role = str(destination["assumeRoleArn"])
                return TemplateDestination(
                    bucket=str(destination["bucketName"]),
                    key=str(destination["objectKey"]),
                    region=str(destination.get("region", self.region)),
                    role_arn=role.replace("${AWS::Partition}", partition_of(self.region)),
                )
        raise KeyError(f"{self.name}: its asset manifest does not list the template")


@dataclass(frozen=True)
class CloudAssembly:
    root: Path
    stacks: tuple[SynthesizedStack, ...]

    @property
    def environments(self) -> list[str]:
        """PIPELINE and every environment with stacks, in the order the manifests list them."""
        return list(dict.fromkeys(stack.environment for stack in self.stacks))

    def environment_stacks(self, environment: str) -> list[SynthesizedStack]:
        return [stack for stack in self.stacks if stack.environment == environment]

    def templates(self, environment: str) -> dict[str, Template]:
        """{stack name: template} of one environment's stacks."""
        return {stack.name: stack.template for stack in self.environment_stacks(environment)}

    def pipeline_stack(self) -> SynthesizedStack:
        """The pipeline's own stack (CodePipeline's cross-region support stacks sit beside it);
        KeyError when the assembly has none."""
        for stack in self.environment_stacks(PIPELINE):
            if codepipeline(stack.template) is not None:
                return stack
        raise KeyError(PIPELINE_TYPE)

    def stack(self, name: str) -> SynthesizedStack:
        """The stack named ``name`` (its CloudFormation name); KeyError when there is none."""
        for stack in self.stacks:
            if stack.name == name:
                return stack
        raise KeyError(name)


def partition_of(region: str) -> str:
    """The AWS partition of ``region`` (the manifest writes ARNs with ${AWS::Partition})."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def dns_suffix(region: str) -> str:
    """The domain of ``region``'s service endpoints (China's regions have their own)."""
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def codepipeline(template: Mapping[str, Any]) -> dict[str, Any] | None:
    """The properties of the template's AWS::CodePipeline::Pipeline, or None without one."""
    for resource in template.get("Resources", {}).values():
        if resource["Type"] == PIPELINE_TYPE:
            return dict(resource["Properties"])
    return None


class AssemblyNotFoundError(FileNotFoundError):
    """Nothing was synthesized where a cloud assembly was expected; the message says so."""


def read_cloud_assembly(root: Path) -> CloudAssembly:
    """Every stack of the assembly in ``root``, the stages' nested assemblies included.

    AssemblyNotFoundError when ``root`` has no manifest.json (nothing was synthesized there).
    """
    if not (root / "manifest.json").is_file():
        raise AssemblyNotFoundError(f"{root}/manifest.json not found: run make synth first")
    return CloudAssembly(root=root, stacks=tuple(_stacks(root, PIPELINE, _artifacts(root))))


def _artifacts(directory: Path) -> dict[str, Any]:
    return dict(read_json(directory / "manifest.json")["artifacts"])


def _stacks(
    directory: Path, environment: str, artifacts: Mapping[str, Any]
) -> Iterator[SynthesizedStack]:
    """The stacks of one manifest's ``artifacts``, a nested assembly's at its place in the list."""
    for artifact_id, artifact in artifacts.items():
        if artifact.get("type") == STACK_ARTIFACT:
            yield _stack(directory, environment, artifact_id, artifact)
        elif artifact.get("type") == NESTED_ASSEMBLY:
            nested = directory / artifact["properties"]["directoryName"]
            listed = _artifacts(nested)
            yield from _stacks(nested, _stage_environment(nested.name, listed), listed)


def _stack(
    directory: Path, environment: str, artifact_id: str, artifact: Mapping[str, Any]
) -> SynthesizedStack:
    properties = artifact["properties"]
    account, _, region = str(artifact.get("environment", "")).removeprefix("aws://").partition("/")
    return SynthesizedStack(
        artifact_id=artifact_id,
        display_name=str(artifact.get("displayName", artifact_id)),
        name=str(properties.get("stackName", artifact_id)),
        account=account,
        region=region,
        environment=environment,
        directory=directory,
        template_file=directory / properties["templateFile"],
        termination_protection=bool(properties.get("terminationProtection", False)),
        artifact=artifact,
    )


def _stage_environment(directory_name: str, artifacts: Mapping[str, Any]) -> str:
    """The environment a stage's nested assembly deploys: the stage's construct id.

    The directory is named after the stage's path ("assembly-Pipeline-dev-eu" for the stage
    "dev-eu" of the stack "Pipeline"); a stack's display name is its own path below the stage
    ("Pipeline/dev-eu/Network"), which tells where the stage's id starts. Without a stack to go
    by, the last "-" does.
    """
    for artifact in artifacts.values():
        parts = str(artifact.get("displayName", "")).split("/")
        for end in range(1, len(parts)):
            if _NESTED_PREFIX + "-".join(parts[:end]) == directory_name:
                return parts[end - 1]
    return directory_name.rsplit("-", 1)[-1]
