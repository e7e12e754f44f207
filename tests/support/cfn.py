"""Resolve the synthesized templates' intrinsics into the concrete values AWS would see.

Every stack of the cloud assembly (the pipeline's and each environment's, in their own
accounts and regions) is read once. Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split,
Fn::If, pseudo parameters, Fn::ImportValue and Fn::GetStackOutput are resolved against
physical identities: those of the resources the harness created in the local AWS, and for every
other resource the name CloudFormation would give it (its name property, or
``<stack>-<logical id>-<suffix>`` as CloudFormation generates) and the ARN shape of its type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.cloud_assembly import Template, read_cloud_assembly

PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
NO_VALUE = object()


@dataclass(frozen=True)
class StackInfo:
    name: str
    account: str
    region: str
    environment: str  # "pipeline" or the environment's name
    template: Template = field(repr=False, hash=False, compare=False)

    def resource(self, logical_id: str) -> dict[str, Any]:
        return dict(self.template["Resources"][logical_id])

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template.get("Resources", {}).items()
            if resource["Type"] == resource_type
        }


def read_stacks(assembly: Path) -> dict[str, StackInfo]:
    """Every stack of the cloud assembly (nested stage assemblies included), by stack name."""
    return {
        stack.name: StackInfo(
            name=stack.name,
            account=stack.account,
            region=stack.region,
            environment=stack.environment,
            template=stack.template,
        )
        for stack in read_cloud_assembly(assembly).stacks
    }


# -------------------------------------------------------------------- physical identities

# The property that names a resource of each type, when the template sets it.
NAME_PROPERTIES = {
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::CompositeAlarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::Service": "ServiceName",
    "AWS::Events::Rule": "Name",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBProxy": "DBProxyName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SSM::Parameter": "Name",
    "AWS::SecretsManager::Secret": "Name",
}
# CloudFormation's limits for generated names.
_MAX_NAME = {"AWS::S3::Bucket": 63, "AWS::IAM::Role": 64, "AWS::SQS::Queue": 80}
_LOWER_CASE = {"AWS::S3::Bucket", "AWS::RDS::DBCluster", "AWS::RDS::DBProxy"}


def _suffix(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length].upper()


def generated_name(stack: StackInfo, logical_id: str, resource_type: str) -> str:
    """``<stack>-<logical id>-<suffix>``, CloudFormation's shape for unnamed resources."""
    suffix = _suffix(stack.account, stack.name, logical_id)
    limit = _MAX_NAME.get(resource_type, 128)
    head = f"{stack.name}-{logical_id}"[: limit - len(suffix) - 1]
    name = f"{head}-{suffix}"
    return name.lower() if resource_type in _LOWER_CASE else name


@dataclass
class Identity:
    """What Ref and Fn::GetAtt of one resource return."""

    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)

    def attribute(self, name: str) -> Any:
        if name in self.attributes:
            return self.attributes[name]
        # An attribute the model does not know: opaque but stable, never a real ARN.
        return f"<{self.ref}.{name}>"


def arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def default_identity(  # noqa: PLR0911 - one branch per resource type's ARN shape
    stack: StackInfo, logical_id: str, resource_type: str, name: str
) -> Identity:
    """The identity CloudFormation would give ``name``'d resource of ``resource_type``."""
    region, account = stack.region, stack.account
    if resource_type == "AWS::S3::Bucket":
        return Identity(
            name,
            {
                "Arn": f"arn:{PARTITION}:s3:::{name}",
                "DomainName": f"{name}.s3.{URL_SUFFIX}",
                "RegionalDomainName": f"{name}.s3.{region}.{URL_SUFFIX}",
            },
        )
    if resource_type == "AWS::SNS::Topic":
        topic = arn("sns", region, account, name)
        return Identity(topic, {"TopicArn": topic, "TopicName": name})
    if resource_type == "AWS::SQS::Queue":
        url = f"https://sqs.{region}.{URL_SUFFIX}/{account}/{name}"
        return Identity(
            url, {"Arn": arn("sqs", region, account, name), "QueueName": name, "QueueUrl": url}
        )
    if resource_type == "AWS::KMS::Key":
        key_id = "-".join(
            _suffix(stack.name, logical_id, length=32).lower()[a:b]
            for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
        )
        return Identity(
            key_id, {"Arn": arn("kms", region, account, f"key/{key_id}"), "KeyId": key_id}
        )
    if resource_type == "AWS::IAM::Role":
        return Identity(
            name, {"Arn": f"arn:{PARTITION}:iam::{account}:role/{name}", "RoleId": _suffix(name)}
        )
    if resource_type == "AWS::SecretsManager::Secret":
        secret = arn("secretsmanager", region, account, f"secret:{name}-{_suffix(name, length=6)}")
        return Identity(secret, {"Id": secret})
    if resource_type == "AWS::Logs::LogGroup":
        return Identity(name, {"Arn": arn("logs", region, account, f"log-group:{name}:*")})
    if resource_type == "AWS::CloudFront::Distribution":
        domain = f"d{_suffix(stack.name, logical_id).lower()}.cloudfront.net"
        return Identity(_suffix(stack.name, logical_id, length=14), {"DomainName": domain})
    elb = _elb_identity(stack, logical_id, resource_type, name)
    if elb is not None:
        return elb
    if resource_type in {"AWS::ECS::TaskDefinition", "AWS::ECS::Service"}:
        kind = "task-definition" if resource_type.endswith("TaskDefinition") else "service"
        return Identity(arn("ecs", region, account, f"{kind}/{name}"), {"Name": name})
    arns = {
        "AWS::ECR::Repository": ("ecr", f"repository/{name}"),
        "AWS::Lambda::Function": ("lambda", f"function:{name}"),
        "AWS::CodeBuild::Project": ("codebuild", f"project/{name}"),
        "AWS::CodePipeline::Pipeline": ("codepipeline", name),
        "AWS::SSM::Parameter": ("ssm", f"parameter/{name.lstrip('/')}"),
        "AWS::CloudWatch::Alarm": ("cloudwatch", f"alarm:{name}"),
        "AWS::ECS::Cluster": ("ecs", f"cluster/{name}"),
        "AWS::Events::Rule": ("events", f"rule/{name}"),
    }
    if resource_type in arns:
        service, resource = arns[resource_type]
        attributes = {"Arn": arn(service, region, account, resource)}
        if resource_type == "AWS::ECR::Repository":
            attributes["RepositoryUri"] = f"{account}.dkr.ecr.{region}.{URL_SUFFIX}/{name}"
        return Identity(name, attributes)
    return Identity(name)


def _elb_identity(
    stack: StackInfo, logical_id: str, resource_type: str, name: str
) -> Identity | None:
    """Load balancer resources: their Ref is an ARN whose path later parts are split from."""
    if not resource_type.startswith("AWS::ElasticLoadBalancingV2::"):
        return None
    kind = resource_type.rsplit("::", 1)[-1]
    short = name[:32]
    unique = _suffix(stack.name, logical_id, length=16).lower()
    prefix = arn("elasticloadbalancing", stack.region, stack.account, "")
    if kind == "LoadBalancer":
        full = f"app/{short}/{unique}"
        return Identity(
            f"{prefix}loadbalancer/{full}",
            {
                "LoadBalancerFullName": full,
                "LoadBalancerName": short,
                "DNSName": f"{short}-{unique[:10]}.{stack.region}.elb.{URL_SUFFIX}",
                "LoadBalancerArn": f"{prefix}loadbalancer/{full}",
            },
        )
    if kind == "TargetGroup":
        full = f"targetgroup/{short}/{unique}"
        return Identity(f"{prefix}{full}", {"TargetGroupFullName": full, "TargetGroupName": short})
    if kind in {"Listener", "ListenerRule"}:
        path = "listener" if kind == "Listener" else "listener-rule"
        return Identity(f"{prefix}{path}/app/{short}/{unique}/{_suffix(name, length=16).lower()}")
    return Identity(f"{prefix}{kind.lower()}/{short}/{unique}")


def resource_name(stack: StackInfo, logical_id: str, resolve: Callable[[Any], Any]) -> str:
    resource = stack.resource(logical_id)
    prop = NAME_PROPERTIES.get(resource["Type"])
    explicit = resource.get("Properties", {}).get(prop) if prop else None
    if explicit is not None:
        return str(resolve(explicit))
    return generated_name(stack, logical_id, resource["Type"])


# -------------------------------------------------------------------- the resolver

IdentityProvider = Callable[[StackInfo, str], Identity | None]


class UnresolvableError(Exception):
    pass


class Resolver:
    """Resolves values in the context of one stack; other stacks are reached by name."""

    def __init__(
        self,
        stacks: Mapping[str, StackInfo],
        *,
        provider: IdentityProvider | None = None,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.stacks = stacks
        self.provider = provider
        self.parameters = parameters or {}
        self._identities: dict[tuple[str, str], Identity] = {}

    def identity(self, stack: StackInfo, logical_id: str) -> Identity:
        key = (stack.name, logical_id)
        if key not in self._identities:
            provided = self.provider(stack, logical_id) if self.provider else None
            if provided is None:
                resource_type = stack.resource(logical_id)["Type"]
                name = resource_name(stack, logical_id, lambda v: self.resolve(stack, v))
                provided = default_identity(stack, logical_id, resource_type, name)
            self._identities[key] = provided
        return self._identities[key]

    def forget(self, stack: StackInfo, logical_id: str) -> None:
        self._identities.pop((stack.name, logical_id), None)

    def output(self, stack_name: str, output_name: str) -> Any:
        stack = self.stacks[stack_name]
        outputs = stack.template.get("Outputs", {})
        if output_name not in outputs:
            raise UnresolvableError(f"stack {stack_name} has no output {output_name}")
        return self.resolve(stack, outputs[output_name]["Value"])

    def export(self, account: str, region: str, export_name: str) -> Any:
        for stack in self.stacks.values():
            if (stack.account, stack.region) != (account, region):
                continue
            for output in stack.template.get("Outputs", {}).values():
                export = output.get("Export", {}).get("Name")
                if export is not None and self.resolve(stack, export) == export_name:
                    return self.resolve(stack, output["Value"])
        raise UnresolvableError(f"no export {export_name!r} in {account}/{region}")

    def _pseudo(self, stack: StackInfo, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": stack.account,
            "AWS::Region": stack.region,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": stack.name,
            "AWS::StackId": arn(
                "cloudformation",
                stack.region,
                stack.account,
                f"stack/{stack.name}/{_suffix(stack.name)}",
            ),
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }
        return pseudo[name]

    def _ref(self, stack: StackInfo, name: str) -> Any:
        if name.startswith("AWS::"):
            return self._pseudo(stack, name)
        parameters = stack.template.get("Parameters", {})
        if name in parameters:
            given = self.parameters.get(stack.name, {})
            value = given.get(name, parameters[name].get("Default"))
            if parameters[name].get("Type") == "CommaDelimitedList" and isinstance(value, str):
                return [item for item in value.split(",") if item]
            return value
        return self.identity(stack, name).ref

    def condition(self, stack: StackInfo, name: str) -> bool:
        return bool(self.resolve(stack, stack.template["Conditions"][name]))

    def _sub(self, stack: StackInfo, text: str, variables: Mapping[str, Any]) -> str:
        out, rest = [], text
        while "${" in rest:
            head, _, tail = rest.partition("${")
            out.append(head)
            expression, _, rest = tail.partition("}")
            if expression.startswith("!"):
                out.append("${" + expression[1:] + "}")
            elif expression in variables:
                out.append(str(self.resolve(stack, variables[expression])))
            elif "." in expression and not expression.startswith("AWS::"):
                logical_id, _, attribute = expression.partition(".")
                out.append(str(self.identity(stack, logical_id).attribute(attribute)))
            else:
                out.append(str(self._ref(stack, expression)))
        out.append(rest)
        return "".join(out)

    def resolve(self, stack: StackInfo, value: Any) -> Any:  # noqa: PLR0911, PLR0912
        if isinstance(value, list):
            items = [self.resolve(stack, item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            resolved = {key: self.resolve(stack, item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        ((key, argument),) = value.items()
        if key == "Ref":
            return self._ref(stack, argument)
        if key == "Fn::GetAtt":
            logical_id, attribute = (
                argument if isinstance(argument, list) else argument.split(".", 1)
            )
            return self.identity(stack, logical_id).attribute(str(self.resolve(stack, attribute)))
        if key == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(str(item) for item in self.resolve(stack, items))
        if key == "Fn::Sub":
            if isinstance(argument, str):
                return self._sub(stack, argument, {})
            text, variables = argument
            return self._sub(stack, text, variables)
        if key == "Fn::Select":
            index, items = self.resolve(stack, argument)
            if not isinstance(items, list) or int(index) >= len(items):
                raise UnresolvableError(f"{stack.name}: Fn::Select {index} of {items!r}")
            return items[int(index)]
        if key == "Fn::Split":
            delimiter, text = self.resolve(stack, argument)
            return str(text).split(delimiter)
        if key == "Fn::If":
            name, if_true, if_false = argument
            return self.resolve(stack, if_true if self.condition(stack, name) else if_false)
        if key == "Fn::Equals":
            left, right = self.resolve(stack, argument)
            return left == right
        if key == "Fn::Not":
            return not self.resolve(stack, argument[0])
        if key == "Fn::And":
            return all(self.resolve(stack, item) for item in argument)
        if key == "Fn::Or":
            return any(self.resolve(stack, item) for item in argument)
        if key == "Condition":
            return self.condition(stack, argument)
        if key == "Fn::GetAZs":
            return [f"{stack.region}{zone}" for zone in "abc"]
        if key == "Fn::ImportValue":
            return self.export(stack.account, stack.region, str(self.resolve(stack, argument)))
        if key == "Fn::GetStackOutput":
            spec = self.resolve(stack, argument)
            return self.output(spec["StackName"], spec["OutputName"])
        if key == "Fn::FindInMap":
            name, top, second = self.resolve(stack, argument)
            return stack.template["Mappings"][name][top][second]
        if key.startswith("Fn::"):
            raise UnresolvableError(f"{stack.name}: {key} is not resolved by the harness")
        resolved = self.resolve(stack, argument)
        return NO_VALUE if resolved is NO_VALUE else {key: resolved}
