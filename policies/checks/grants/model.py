"""The synthesized system as the service-grant checks read it: every stack, resolved.

A grant is a relation between resources, often in different stacks: a log group in the
stateless stack names a key in the stateful stack through ``Fn::GetStackOutput``; a service's
deployment alarm names the alarm topic by its literal ARN. checkov sees one resource (or, in its
graph checks, one file) at a time, so these checks read the whole assembly instead.

Values are resolved to strings. A reference to a resource becomes a placeholder
``${<stack>/<logical id>.<attribute>}`` (``Ref`` for a Ref), a value that cannot be known before
deployment becomes ``${?}``; pseudo parameters become the stack's account, region, partition.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from config.cloud_assembly import partition_of, read_cloud_assembly

UNKNOWN = "${?}"
# Stands in for a name CloudFormation generates: only a pattern with `*` there matches it.
GENERATED = "\x00generated\x00"
DEFAULT_ACCOUNT = "111111111111"
DEFAULT_REGION = "eu-west-1"


@dataclass(frozen=True)
class ResourceId:
    stack: str
    logical_id: str

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id}"


@dataclass
class Stack:
    name: str
    account: str
    region: str
    template: dict[str, Any]
    file: Path

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template.get("Resources") or {})


@dataclass
class Assembly:
    stacks: dict[str, Stack] = field(default_factory=dict)

    def resource(self, rid: ResourceId) -> dict[str, Any]:
        return dict(self.stacks[rid.stack].resources[rid.logical_id])

    def of_type(self, resource_type: str) -> Iterator[tuple[ResourceId, dict[str, Any]]]:
        for stack in self.stacks.values():
            for logical_id, resource in stack.resources.items():
                if resource.get("Type") == resource_type:
                    yield ResourceId(stack.name, logical_id), resource

    def properties(self, rid: ResourceId) -> dict[str, Any]:
        return dict(self.resource(rid).get("Properties") or {})

    def type_of(self, rid: ResourceId) -> str:
        return str(self.resource(rid).get("Type"))

    # ------------------------------------------------------------------ resolution
    def resolve(self, stack: Stack, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by a string (lists stay lists)."""
        if isinstance(value, list):
            return [self.resolve(stack, item) for item in value]
        if isinstance(value, dict):
            if len(value) == 1:
                ((name, argument),) = value.items()
                if name == "Ref" or name.startswith("Fn::"):
                    return self._intrinsic(stack, name, argument)
            return {key: self.resolve(stack, item) for key, item in value.items()}
        if isinstance(value, bool | int | float):
            return str(value).lower() if isinstance(value, bool) else str(value)
        return value

    def text(self, stack: Stack, value: Any) -> str:
        resolved = self.resolve(stack, value)
        return resolved if isinstance(resolved, str) else UNKNOWN

    def _pseudo(self, stack: Stack, name: str) -> str | None:
        return {
            "AWS::AccountId": stack.account,
            "AWS::Region": stack.region,
            "AWS::Partition": stack.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack.name,
        }.get(name)

    def _ref(self, stack: Stack, name: str, attribute: str) -> str:
        pseudo = self._pseudo(stack, name)
        if pseudo is not None and attribute == "Ref":
            return pseudo
        if name in stack.resources:
            return f"${{{stack.name}/{name}.{attribute}}}"
        return UNKNOWN

    def _intrinsic(self, stack: Stack, name: str, argument: Any) -> Any:
        handlers: dict[str, Callable[[], Any]] = {
            "Ref": lambda: self._ref(stack, str(argument), "Ref"),
            "Fn::GetAtt": lambda: self._get_att(stack, argument),
            "Fn::Join": lambda: self._join(stack, argument),
            "Fn::Sub": lambda: self._sub(stack, argument),
            "Fn::GetStackOutput": lambda: self._stack_output(argument),
            "Fn::ImportValue": lambda: self._import(self.text(stack, argument)),
        }
        handler = handlers.get(name)
        return handler() if handler else UNKNOWN

    def _get_att(self, stack: Stack, argument: Any) -> str:
        logical_id, attribute = (
            argument if isinstance(argument, list) else str(argument).split(".", 1)
        )
        return self._ref(stack, str(logical_id), str(attribute))

    def _join(self, stack: Stack, argument: Any) -> str:
        separator, parts = argument
        texts = [self.resolve(stack, part) for part in self._list(stack, parts)]
        return str(separator).join(t if isinstance(t, str) else UNKNOWN for t in texts)

    def _list(self, stack: Stack, parts: Any) -> list[Any]:
        resolved = self.resolve(stack, parts)
        flat: list[Any] = []
        for part in resolved if isinstance(resolved, list) else [resolved]:
            flat += part if isinstance(part, list) else [part]
        return flat

    def _sub(self, stack: Stack, argument: Any) -> str:
        template, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return self.text(stack, variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self._ref(stack, logical_id, attribute)
            return self._ref(stack, name, "Ref")

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, str(template))

    def _stack_output(self, argument: dict[str, Any]) -> Any:
        stack = self.stacks.get(str(argument.get("StackName")))
        if stack is None:
            return UNKNOWN
        output = (stack.template.get("Outputs") or {}).get(str(argument.get("OutputName")))
        return self.resolve(stack, output["Value"]) if output else UNKNOWN

    def _import(self, export_name: str) -> Any:
        for stack in self.stacks.values():
            for output in (stack.template.get("Outputs") or {}).values():
                export = output.get("Export", {}).get("Name")
                if export is not None and self.text(stack, export) == export_name:
                    return self.resolve(stack, output["Value"])
        return UNKNOWN

    # ------------------------------------------------------------------ identities
    def target(self, value: str) -> ResourceId | None:
        """The resource a resolved value denotes: a placeholder, or a literal ARN or name."""
        match = re.fullmatch(r"\$\{([^/}]+)/([^.}]+)\.[^}]+\}", value)
        if match:
            return ResourceId(match.group(1), match.group(2))
        for rid, identities in self._literal_identities().items():
            if value in identities:
                return rid
        return None

    def _literal_identities(self) -> dict[ResourceId, set[str]]:
        identities: dict[ResourceId, set[str]] = {}
        for stack in self.stacks.values():
            for logical_id in stack.resources:
                rid = ResourceId(stack.name, logical_id)
                identities[rid] = {i for i in self.identities(rid) if "${" not in i}
        return identities

    def physical_name(self, rid: ResourceId) -> str:
        """The resource's literal name, or GENERATED when CloudFormation makes one up."""
        name_property = _NAME_PROPERTIES.get(self.type_of(rid))
        if name_property is None:
            return GENERATED
        value = self.text(self.stacks[rid.stack], self.properties(rid).get(name_property))
        return value if value and "${" not in value else GENERATED

    def arn(self, rid: ResourceId) -> str:
        """The resource's ARN as a literal (its generated parts stand for GENERATED)."""
        stack = self.stacks[rid.stack]
        name = self.physical_name(rid)
        formats = {
            "AWS::SNS::Topic": "arn:{p}:sns:{r}:{a}:{n}",
            "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{n}",
            "AWS::S3::Bucket": "arn:{p}:s3:::{n}",
            "AWS::Logs::LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{n}",
            "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
            "AWS::CloudWatch::Alarm": "arn:{p}:cloudwatch:{r}:{a}:alarm:{n}",
            "AWS::Events::Rule": "arn:{p}:events:{r}:{a}:rule/{n}",
            "AWS::Budgets::Budget": "arn:{p}:budgets::{a}:budget/{n}",
            "AWS::CodeStarNotifications::NotificationRule": (
                "arn:{p}:codestar-notifications:{r}:{a}:notificationrule/{n}"
            ),
            "AWS::KMS::Key": "arn:{p}:kms:{r}:{a}:key/{n}",
        }
        template = formats.get(self.type_of(rid), "arn:{p}:?:{r}:{a}:{n}")
        return template.format(p=stack.partition, r=stack.region, a=stack.account, n=name)

    def identities(self, rid: ResourceId) -> set[str]:
        """Every resolved string that denotes this resource (placeholders and literals)."""
        prefix = f"${{{rid}."
        found = {f"{prefix}Ref}}", f"{prefix}Arn}}"}
        if self.type_of(rid) == "AWS::SNS::Topic":
            found.add(f"{prefix}TopicArn}}")
        arn = self.arn(rid)
        if GENERATED not in arn:
            found.add(arn)
            name = self.physical_name(rid)
            if self.type_of(rid) in {"AWS::S3::Bucket", "AWS::Lambda::Function"}:
                found.add(name)
        return found

    def canonical(self, rid: ResourceId, value: str) -> str:
        """``value`` with every way of writing this resource's ARN replaced by its literal ARN."""
        arn = self.arn(rid)
        prefix = f"${{{rid}."
        spellings = sorted(
            [i for i in self.identities(rid) if i.startswith(prefix) and not i.endswith("Ref}")],
            key=len,
            reverse=True,
        )
        if self.type_of(rid) == "AWS::S3::Bucket":
            value = value.replace(f"arn:{self.stacks[rid.stack].partition}:s3:::{prefix}Ref}}", arn)
        for spelling in spellings:
            value = value.replace(spelling, arn)
        if self.type_of(rid) == "AWS::SNS::Topic":
            value = value.replace(f"{prefix}Ref}}", arn)
        return value


_NAME_PROPERTIES = {
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Events::Rule": "Name",
    "AWS::CodeStarNotifications::NotificationRule": "Name",
}


# ---------------------------------------------------------------------- loading
def load_cloud_assembly(root: Path) -> Assembly:
    """Every stack of a cloud assembly directory (``cdk.out``), nested stages included."""
    return Assembly(
        stacks={
            stack.name: Stack(
                name=stack.name,
                account=stack.account,
                region=stack.region,
                template=stack.template,
                file=stack.template_file,
            )
            for stack in read_cloud_assembly(root).stacks
        }
    )


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !GetAtt, !Sub, !Join...)."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _short_form)


def load_fixture(path: Path) -> Assembly:
    """A fixture file: one or more templates (YAML documents), one stack each.

    A document names its stack in ``Metadata.Stack`` (Name, Account, Region); without it the
    stack is ``<file stem>-<n>`` in the default account and region.
    """
    assembly = Assembly()
    documents = yaml.load_all(path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    for index, template in enumerate(documents):
        meta = (template.get("Metadata") or {}).get("Stack") or {}
        name = str(meta.get("Name", f"{path.stem}-{index}"))
        assembly.stacks[name] = Stack(
            name=name,
            account=str(meta.get("Account", DEFAULT_ACCOUNT)),
            region=str(meta.get("Region", DEFAULT_REGION)),
            template=template,
            file=path,
        )
    return assembly
