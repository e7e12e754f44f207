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


def default_identity(stack: StackInfo, logical_id: str, resource_type: str, name: str) -> Identity:
    """The identity CloudFormation would give ``name``'d resource of ``resource_type``."""
    if resource_type in _IDENTITY_OF_NAME:
        return _IDENTITY_OF_NAME[resource_type](stack, name)
    if resource_type in _IDENTITY_OF_LOGICAL_ID:
        return _IDENTITY_OF_LOGICAL_ID[resource_type](stack, logical_id)
    elb = _elb_identity(stack, logical_id, resource_type, name)
    return elb if elb is not None else Identity(name)


# ---- the ARN shape of each resource type: from its name, or from its stack and logical id


def _bucket_identity(stack: StackInfo, name: str) -> Identity:
    return Identity(
        name,
        {
            "Arn": f"arn:{PARTITION}:s3:::{name}",
            "DomainName": f"{name}.s3.{URL_SUFFIX}",
            "RegionalDomainName": f"{name}.s3.{stack.region}.{URL_SUFFIX}",
        },
    )


def _topic_identity(stack: StackInfo, name: str) -> Identity:
    topic = arn("sns", stack.region, stack.account, name)
    return Identity(topic, {"TopicArn": topic, "TopicName": name})


def _queue_identity(stack: StackInfo, name: str) -> Identity:
    region, account = stack.region, stack.account
    url = f"https://sqs.{region}.{URL_SUFFIX}/{account}/{name}"
    return Identity(
        url, {"Arn": arn("sqs", region, account, name), "QueueName": name, "QueueUrl": url}
    )


def _role_identity(stack: StackInfo, name: str) -> Identity:
    return Identity(
        name,
        {"Arn": f"arn:{PARTITION}:iam::{stack.account}:role/{name}", "RoleId": _suffix(name)},
    )


def _secret_identity(stack: StackInfo, name: str) -> Identity:
    secret = arn(
        "secretsmanager", stack.region, stack.account, f"secret:{name}-{_suffix(name, length=6)}"
    )
    return Identity(secret, {"Id": secret})


def _log_group_identity(stack: StackInfo, name: str) -> Identity:
    return Identity(name, {"Arn": arn("logs", stack.region, stack.account, f"log-group:{name}:*")})


def _repository_identity(stack: StackInfo, name: str) -> Identity:
    region, account = stack.region, stack.account
    return Identity(
        name,
        {
            "Arn": arn("ecr", region, account, f"repository/{name}"),
            "RepositoryUri": f"{account}.dkr.ecr.{region}.{URL_SUFFIX}/{name}",
        },
    )


def _ecs_identity(kind: str) -> Callable[[StackInfo, str], Identity]:
    """Task definitions and services: their Ref is their ARN."""

    def identity(stack: StackInfo, name: str) -> Identity:
        return Identity(arn("ecs", stack.region, stack.account, f"{kind}/{name}"), {"Name": name})

    return identity


def _arn_identity(
    service: str, resource: Callable[[str], str]
) -> Callable[[StackInfo, str], Identity]:
    """A resource whose Ref is its name and whose only attribute is its ARN."""

    def identity(stack: StackInfo, name: str) -> Identity:
        return Identity(name, {"Arn": arn(service, stack.region, stack.account, resource(name))})

    return identity


def _key_identity(stack: StackInfo, logical_id: str) -> Identity:
    key_id = "-".join(
        _suffix(stack.name, logical_id, length=32).lower()[a:b]
        for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
    )
    return Identity(
        key_id, {"Arn": arn("kms", stack.region, stack.account, f"key/{key_id}"), "KeyId": key_id}
    )


def _distribution_identity(stack: StackInfo, logical_id: str) -> Identity:
    domain = f"d{_suffix(stack.name, logical_id).lower()}.cloudfront.net"
    return Identity(_suffix(stack.name, logical_id, length=14), {"DomainName": domain})


def _user_pool_identity(stack: StackInfo, logical_id: str) -> Identity:
    """Cognito's shape: ``<region>_<9 letters and digits>``, the ARN ends ``userpool/<id>``."""
    pool_id = f"{stack.region}_{_suffix(stack.name, logical_id, length=9)}"
    pool_arn = arn("cognito-idp", stack.region, stack.account, f"userpool/{pool_id}")
    return Identity(pool_id, {"Arn": pool_arn, "UserPoolId": pool_id})


def _user_pool_client_identity(stack: StackInfo, logical_id: str) -> Identity:
    """Cognito's app client ids: 26 lower-case letters and digits."""
    return Identity(_suffix(stack.name, logical_id, length=26).lower())


_IDENTITY_OF_NAME: dict[str, Callable[[StackInfo, str], Identity]] = {
    "AWS::S3::Bucket": _bucket_identity,
    "AWS::SNS::Topic": _topic_identity,
    "AWS::SQS::Queue": _queue_identity,
    "AWS::IAM::Role": _role_identity,
    "AWS::SecretsManager::Secret": _secret_identity,
    "AWS::Logs::LogGroup": _log_group_identity,
    "AWS::ECS::TaskDefinition": _ecs_identity("task-definition"),
    "AWS::ECS::Service": _ecs_identity("service"),
    "AWS::ECR::Repository": _repository_identity,
    "AWS::Lambda::Function": _arn_identity("lambda", lambda name: f"function:{name}"),
    "AWS::CodeBuild::Project": _arn_identity("codebuild", lambda name: f"project/{name}"),
    "AWS::CodePipeline::Pipeline": _arn_identity("codepipeline", lambda name: name),
    "AWS::SSM::Parameter": _arn_identity("ssm", lambda name: f"parameter/{name.lstrip('/')}"),
    "AWS::CloudWatch::Alarm": _arn_identity("cloudwatch", lambda name: f"alarm:{name}"),
    "AWS::ECS::Cluster": _arn_identity("ecs", lambda name: f"cluster/{name}"),
    "AWS::Events::Rule": _arn_identity("events", lambda name: f"rule/{name}"),
}
_IDENTITY_OF_LOGICAL_ID: dict[str, Callable[[StackInfo, str], Identity]] = {
    "AWS::KMS::Key": _key_identity,
    "AWS::CloudFront::Distribution": _distribution_identity,
    "AWS::Cognito::UserPool": _user_pool_identity,
    "AWS::Cognito::UserPoolClient": _user_pool_client_identity,
}


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

    def resolve(self, stack: StackInfo, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(stack, item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            resolved = {key: self.resolve(stack, item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        ((key, argument),) = value.items()
        intrinsic = _INTRINSICS.get(key)
        if intrinsic is not None:
            return intrinsic(self, stack, argument)
        if key.startswith("Fn::"):
            raise UnresolvableError(f"{stack.name}: {key} is not resolved by the harness")
        resolved = self.resolve(stack, argument)
        return NO_VALUE if resolved is NO_VALUE else {key: resolved}

    # ---- one method per intrinsic function (_INTRINSICS), given the function's argument

    def _get_att(self, stack: StackInfo, argument: Any) -> Any:
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        return self.identity(stack, logical_id).attribute(str(self.resolve(stack, attribute)))

    def _join(self, stack: StackInfo, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(str(item) for item in self.resolve(stack, items))

    def _sub_function(self, stack: StackInfo, argument: Any) -> str:
        if isinstance(argument, str):
            return self._sub(stack, argument, {})
        text, variables = argument
        return self._sub(stack, text, variables)

    def _select(self, stack: StackInfo, argument: Any) -> Any:
        index, items = self.resolve(stack, argument)
        if not isinstance(items, list) or int(index) >= len(items):
            raise UnresolvableError(f"{stack.name}: Fn::Select {index} of {items!r}")
        return items[int(index)]

    def _split(self, stack: StackInfo, argument: Any) -> list[str]:
        delimiter, text = self.resolve(stack, argument)
        return str(text).split(delimiter)

    def _if(self, stack: StackInfo, argument: Any) -> Any:
        name, if_true, if_false = argument
        return self.resolve(stack, if_true if self.condition(stack, name) else if_false)

    def _equals(self, stack: StackInfo, argument: Any) -> bool:
        left, right = self.resolve(stack, argument)
        return bool(left == right)

    def _not(self, stack: StackInfo, argument: Any) -> bool:
        return not self.resolve(stack, argument[0])

    def _and(self, stack: StackInfo, argument: Any) -> bool:
        return all(self.resolve(stack, item) for item in argument)

    def _or(self, stack: StackInfo, argument: Any) -> bool:
        return any(self.resolve(stack, item) for item in argument)

    def _get_azs(self, stack: StackInfo, _region: Any) -> list[str]:
        return [f"{stack.region}{zone}" for zone in "abc"]

    def _import_value(self, stack: StackInfo, argument: Any) -> Any:
        return self.export(stack.account, stack.region, str(self.resolve(stack, argument)))

    def _get_stack_output(self, stack: StackInfo, argument: Any) -> Any:
        spec = self.resolve(stack, argument)
        return self.output(spec["StackName"], spec["OutputName"])

    def _find_in_map(self, stack: StackInfo, argument: Any) -> Any:
        name, top, second = self.resolve(stack, argument)
        return stack.template["Mappings"][name][top][second]


_INTRINSICS: dict[str, Callable[[Resolver, StackInfo, Any], Any]] = {
    "Ref": Resolver._ref,
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Join": Resolver._join,
    "Fn::Sub": Resolver._sub_function,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::If": Resolver._if,
    "Fn::Equals": Resolver._equals,
    "Fn::Not": Resolver._not,
    "Fn::And": Resolver._and,
    "Fn::Or": Resolver._or,
    "Condition": Resolver.condition,
    "Fn::GetAZs": Resolver._get_azs,
    "Fn::ImportValue": Resolver._import_value,
    "Fn::GetStackOutput": Resolver._get_stack_output,
    "Fn::FindInMap": Resolver._find_in_map,
}
