"""The accounts of the synthesized system, created in the local AWS from the templates.

An *empty* world holds what exists before the first pipeline run: each environment account
and region bootstrapped (the CDK lookup role, modelled from the bootstrap template the pinned
CLI deploys), and the pipeline stack itself (its keys, topic, buckets, repositories). *Deploying*
an environment adds its stacks as CloudFormation holds them (the templates GetTemplate returns)
and the resources our code talks to (keys with their key policies, queues, topics, secrets,
alarms, parameters), all with the names and properties the resolved templates give them.
Roles are created on demand, with exactly the policies the templates attach to them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from config.paths import ROOT
from tests.support.cfn import Identity, Resolver, StackInfo, read_stacks, resource_name
from tests.support.local_aws import PARTITION, LocalAws, _backends

BOOTSTRAP_TEMPLATE = (
    ROOT / "node_modules" / "aws-cdk" / "lib" / "api" / "bootstrap" / "bootstrap-template.yaml"
)
QUALIFIER = "hnb659fds"
# The roles the pipeline's steps may assume in an environment account (config/names.py).
BOOTSTRAP_ROLES = ("LookupRole", "DeploymentActionRole", "FilePublishingRole")
# Stands in for a deployment that happened before: no template of ours creates it.
_TRIVIAL_TEMPLATE = json.dumps(
    {
        "Conditions": {"Never": {"Fn::Equals": ["deployed", "earlier"]}},
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic", "Condition": "Never"}},
    }
)


@cache
def _aws_managed_policy(name: str) -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415

    return dict(json.loads(aws_managed_policies_data)[name])


@cache
def bootstrap_template() -> dict[str, Any]:
    """The template `cdk bootstrap` deploys, from the pinned CLI (read-only: it is shared)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return dict(yaml.load(BOOTSTRAP_TEMPLATE.read_text(encoding="utf-8"), Loader=loader))  # noqa: S506 - a safe loader


Creator = Callable[["World", StackInfo, dict[str, Any]], Identity]


class World:
    def __init__(self, aws: LocalAws, assembly: Path, *, source: Path) -> None:
        self.aws = aws
        self.assembly = assembly
        # The Source action's artifact, as the pipeline's artifact bucket holds it for the steps.
        self.source = source
        self.stacks = read_stacks(assembly)
        self._deployed: set[str] = set()
        self._created: dict[tuple[str, str], Identity] = {}
        self._creating: set[tuple[str, str]] = set()
        self._roles: dict[tuple[str, str], str] = {}
        # (stack, logical id) -> SecretString for secrets the harness creates.
        self.secret_values: dict[tuple[str, str], str] = {}
        self.resolver = Resolver(self.stacks, provider=self._provide)

    # ---------------------------------------------------------------- lookups

    @property
    def pipeline(self) -> StackInfo:
        (stack,) = (
            s
            for s in self.stacks.values()
            if s.environment == "pipeline" and "-support-" not in s.name
        )
        return stack

    def environment_stacks(self, environment: str) -> list[StackInfo]:
        return [stack for stack in self.stacks.values() if stack.environment == environment]

    def stack_of(self, environment: str, component: str) -> StackInfo:
        (stack,) = (
            s for s in self.environment_stacks(environment) if s.name.endswith(f"-{component}")
        )
        return stack

    def resolve(self, stack: StackInfo, value: Any) -> Any:
        return self.resolver.resolve(stack, value)

    def client(self, service: str, stack: StackInfo) -> Any:
        return self.aws.client(service, account=stack.account, region=stack.region)

    # ---------------------------------------------------------------- states

    def bootstrap(self, account: str, region: str, *, trust: list[str]) -> str:
        """`cdk bootstrap aws://account/region --trust <trust>`: its roles as the bootstrap
        template defines them (lookup: ReadOnlyAccess, kms:Decrypt denied; deploy; file
        publishing; CloudFormation execution), its staging bucket and its version parameter.
        Returns the lookup role's ARN."""
        template = bootstrap_template()
        stack = StackInfo("CDKToolkit", account, region, "bootstrap", template)
        resolver = Resolver(
            {"CDKToolkit": stack},
            parameters={
                "CDKToolkit": {
                    "TrustedAccounts": ",".join(trust),
                    "TrustedAccountsForLookup": "",
                    "Qualifier": QUALIFIER,
                }
            },
        )
        self._bootstrap_bucket(stack, resolver)
        roles = {
            logical_id: self._bootstrap_role(stack, resolver, logical_id)
            for logical_id in BOOTSTRAP_ROLES
        }
        self.aws.client("ssm", account=account, region=region).put_parameter(
            Name=f"/cdk-bootstrap/{QUALIFIER}/version",
            Value=str(resolver.resolve(stack, template["Outputs"]["BootstrapVersion"]["Value"])),
            Type="String",
        )
        return roles["LookupRole"]

    def _bootstrap_role(self, stack: StackInfo, resolver: Resolver, logical_id: str) -> str:
        template = stack.template
        role = resolver.resolve(stack, template["Resources"][logical_id]["Properties"])
        iam = self.aws.client("iam", account=stack.account, region=stack.region)
        name = role["RoleName"]
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(role["AssumeRolePolicyDocument"]),
        )
        inline = [
            (policy["PolicyName"], policy["PolicyDocument"]) for policy in role.get("Policies", [])
        ]
        for policy in template["Resources"].values():
            properties = policy.get("Properties", {})
            if policy["Type"] == "AWS::IAM::Policy" and {"Ref": logical_id} in properties["Roles"]:
                resolved = resolver.resolve(stack, properties)
                inline.append((resolved["PolicyName"], resolved["PolicyDocument"]))
        for policy_name, document in inline:
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy_name,
                PolicyDocument=json.dumps({"Version": "2012-10-17", **document}),
            )
        managed = role.get("ManagedPolicyArns", [])
        for policy_arn in managed if isinstance(managed, list) else [managed]:
            self._attach_aws_managed(stack.account, name, str(policy_arn))
        return f"arn:{PARTITION}:iam::{stack.account}:role/{name}"

    def _bootstrap_bucket(self, stack: StackInfo, resolver: Resolver) -> str:
        """The staging bucket, encrypted with the AWS managed key as by default."""
        properties = resolver.resolve(
            stack, stack.template["Resources"]["StagingBucket"]["Properties"]
        )
        name = str(properties["BucketName"])
        s3 = self.aws.client("s3", account=stack.account, region=stack.region)
        arguments: dict[str, Any] = {"Bucket": name}
        if stack.region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": stack.region}
        s3.create_bucket(**arguments)
        return name

    def _attach_aws_managed(self, account: str, role_name: str, policy_arn: str) -> None:
        from moto.iam.models import AWSManagedPolicy  # noqa: PLC0415

        backend = _backends().iam[account][PARTITION]
        if policy_arn not in backend.managed_policies:
            name = policy_arn.rsplit("/", 1)[-1]
            policy = AWSManagedPolicy.from_data(
                name, account, "us-east-1", _aws_managed_policy(name)
            )
            backend.managed_policies[policy.arn] = policy
        backend.attach_role_policy(policy_arn, role_name)

    def empty(self, *, trusted_account: str) -> None:
        """Before the first pipeline run: accounts bootstrapped, the pipeline stack deployed."""
        regions = {
            (s.account, s.region) for s in self.stacks.values() if s.environment != "pipeline"
        }
        for account, region in sorted(regions):
            self.bootstrap(account, region, trust=[trusted_account])
        for stack in self.stacks.values():
            if stack.environment == "pipeline":
                self.deploy(stack)

    def deploy(self, stack: StackInfo, *, template: dict[str, Any] | None = None) -> None:
        """CloudFormation holds ``template`` (default: this commit's) as ``stack``, and the
        resources our code reaches exist."""
        self._deployed.add(stack.name)
        self.resolver._identities.clear()
        cloudformation = self.client("cloudformation", stack)
        cloudformation.create_stack(StackName=stack.name, TemplateBody=_TRIVIAL_TEMPLATE)
        from moto.cloudformation.models import cloudformation_backends  # noqa: PLC0415

        backend = cloudformation_backends[stack.account][stack.region]
        (deployed,) = (s for s in backend.stacks.values() if s.name == stack.name)
        deployed.template = json.dumps(template if template is not None else stack.template)
        for logical_id, resource in stack.template.get("Resources", {}).items():
            if resource["Type"] in CREATORS:
                self.resolver.identity(stack, logical_id)
        for resource in stack.template.get("Resources", {}).values():
            attach = POLICY_ATTACHERS.get(resource["Type"])
            if attach is not None:
                attach(self, stack, self.resolve(stack, resource.get("Properties", {})))

    def deploy_environment(self, environment: str) -> None:
        for stack in self.environment_stacks(environment):
            self.deploy(stack)

    def publish_image(
        self,
        account: str,
        region: str,
        repository: str,
        *,
        tag: str,
        findings: list[Any] | None = None,
    ) -> str:
        """What an earlier Images step left: ``repository:tag`` pushed and scanned on push
        (ECR basic scanning) with ``findings``; returns the image digest."""
        import requests  # noqa: PLC0415

        ecr = self.aws.client("ecr", account=account, region=region)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1,
                "digest": "sha256:" + hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest(),
            },
            "layers": [],
        }
        image = ecr.put_image(
            repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
        )
        ecr.start_image_scan(repositoryName=repository, imageId={"imageTag": tag})
        result: dict[str, Any] = {
            "registryId": account,
            "repositoryName": repository,
            "imageId": {"imageTag": tag},
            "imageScanStatus": {
                "status": "COMPLETE",
                "description": "The scan was completed successfully.",
            },
            "imageScanFindings": {"findings": findings or [], "findingSeverityCounts": {}},
        }
        requests.post(
            f"{self.aws.endpoint}/moto-api/static/ecr/scan-finding-results",
            json={"results": [result], "region": region, "account_id": account},
            timeout=30,
        ).raise_for_status()
        return str(image["image"]["imageId"]["imageDigest"])

    def record_release(self, *, parameter: str, release: dict[str, Any]) -> None:
        """A release record an earlier ReleaseRecord step wrote (pipeline account)."""
        self.client("ssm", self.pipeline).put_parameter(
            Name=parameter, Value=json.dumps(release, sort_keys=True), Type="String", Overwrite=True
        )

    # ---------------------------------------------------------------- identities

    def _provide(self, stack: StackInfo, logical_id: str) -> Identity | None:
        key = (stack.name, logical_id)
        if key in self._created:
            return self._created[key]
        resource = stack.resource(logical_id)
        creator = CREATORS.get(resource["Type"])
        if creator is None or stack.name not in self._deployed:
            return None
        if key in self._creating:
            raise RuntimeError(f"{stack.name}/{logical_id}: circular reference while creating")
        self._creating.add(key)
        try:
            name = resource_name(stack, logical_id, lambda value: self.resolve(stack, value))
            properties = {
                "__name__": name,
                "__logical_id__": logical_id,
                **resource.get("Properties", {}),
            }
            identity = creator(self, stack, properties)
        finally:
            self._creating.discard(key)
        self._created[key] = identity
        return identity

    def role(self, stack: StackInfo, logical_id: str) -> str:
        """The role ``logical_id`` exists with exactly the template's policies; its ARN."""
        key = (stack.name, logical_id)
        if key in self._roles:
            return self._roles[key]
        properties = self.resolve(stack, stack.resource(logical_id).get("Properties", {}))
        name = resource_name(stack, logical_id, lambda value: self.resolve(stack, value))
        iam = self.client("iam", stack)
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"]),
            Path=properties.get("Path", "/"),
        )
        for policy in properties.get("Policies", []):
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        for policy_id, policy in stack.resources("AWS::IAM::Policy").items():
            if {"Ref": logical_id} in policy["Properties"].get("Roles", []):
                document = self.resolve(stack, policy["Properties"]["PolicyDocument"])
                iam.put_role_policy(
                    RoleName=name, PolicyName=policy_id, PolicyDocument=json.dumps(document)
                )
        for policy_id, policy in stack.resources("AWS::IAM::ManagedPolicy").items():
            if {"Ref": logical_id} in policy["Properties"].get("Roles", []):
                document = self.resolve(stack, policy["Properties"]["PolicyDocument"])
                iam.put_role_policy(
                    RoleName=name, PolicyName=policy_id, PolicyDocument=json.dumps(document)
                )
        for managed in properties.get("ManagedPolicyArns", []):
            if ":iam::aws:policy/" in str(managed):
                self._attach_aws_managed(stack.account, name, str(managed))
            else:
                raise NotImplementedError(f"customer managed policy ARN {managed} on {logical_id}")
        arn = f"arn:{PARTITION}:iam::{stack.account}:role{properties.get('Path', '/')}{name}"
        self._roles[key] = arn
        return arn


# -------------------------------------------------------------------- creators


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": tag["Key"], "Value": str(tag["Value"])} for tag in properties.get("Tags", [])]


def _create_key(world: World, stack: StackInfo, properties: dict[str, Any]) -> Identity:
    resolved = world.resolve(stack, {k: v for k, v in properties.items() if k != "KeyPolicy"})
    policy = world.resolve(stack, properties.get("KeyPolicy"))
    kms = world.client("kms", stack)
    arguments: dict[str, Any] = {"Description": resolved.get("Description", "")}
    if policy:
        arguments["Policy"] = json.dumps(policy)
    metadata = kms.create_key(**arguments)["KeyMetadata"]
    return Identity(metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]})


def _create_topic(world: World, stack: StackInfo, properties: dict[str, Any]) -> Identity:
    resolved = world.resolve(stack, properties)
    attributes = {
        key: str(resolved[key]) for key in ("KmsMasterKeyId", "DisplayName") if key in resolved
    }
    sns = world.client("sns", stack)
    arn = sns.create_topic(Name=resolved["__name__"], Attributes=attributes)["TopicArn"]
    return Identity(arn, {"TopicArn": arn, "TopicName": resolved["__name__"]})


def _create_queue(world: World, stack: StackInfo, properties: dict[str, Any]) -> Identity:
    resolved = world.resolve(stack, properties)
    attributes = {
        key: json.dumps(value) if isinstance(value, dict) else str(value)
        for key, value in resolved.items()
        if key
        in {
            "KmsMasterKeyId",
            "KmsDataKeyReusePeriodSeconds",
            "MessageRetentionPeriod",
            "VisibilityTimeout",
            "RedrivePolicy",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
        }
    }
    name = resolved["__name__"]
    world.client("sqs", stack).create_queue(QueueName=name, Attributes=attributes)
    url = f"https://sqs.{stack.region}.amazonaws.com/{stack.account}/{name}"
    arn = f"arn:aws:sqs:{stack.region}:{stack.account}:{name}"
    return Identity(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def _create_bucket(world: World, stack: StackInfo, properties: dict[str, Any]) -> Identity:
    resolved = world.resolve(stack, properties)
    name = resolved["__name__"]
    s3 = world.client("s3", stack)
    arguments: dict[str, Any] = {"Bucket": name}
    if stack.region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": stack.region}
    s3.create_bucket(**arguments)
    encryption = resolved.get("BucketEncryption")
    if encryption:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                        **(
                            {"BucketKeyEnabled": rule["BucketKeyEnabled"]}
                            if "BucketKeyEnabled" in rule
                            else {}
                        ),
                    }
                    for rule in encryption["ServerSideEncryptionConfiguration"]
                ]
            },
        )
    return Identity(
        name,
        {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{stack.region}.amazonaws.com",
        },
    )


def _create_repository(world: World, stack: StackInfo, properties: dict[str, Any]) -> Identity:
    resolved = world.resolve(stack, properties)
    name = resolved["__name__"]
    ecr = world.client("ecr", stack)
    arguments: dict[str, Any] = {"repositoryName": name}
    if "ImageTagMutability" in resolved:
        arguments["imageTagMutability"] = resolved["ImageTagMutability"]
    if "ImageScanningConfiguration" in resolved:
        arguments["imageScanningConfiguration"] = {
            "scanOnPush": bool(resolved["ImageScanningConfiguration"].get("ScanOnPush"))
        }
    if "EncryptionConfiguration" in resolved:
        config = resolved["EncryptionConfiguration"]
        arguments["encryptionConfiguration"] = {
            "encryptionType": config["EncryptionType"],
            **({"kmsKey": config["KmsKey"]} if "KmsKey" in config else {}),
        }
    repository = ecr.create_repository(**arguments)["repository"]
    if "RepositoryPolicyText" in resolved:
        ecr.set_repository_policy(
            repositoryName=name, policyText=json.dumps(resolved["RepositoryPolicyText"])
        )
    if "LifecyclePolicy" in resolved:
        ecr.put_lifecycle_policy(
            repositoryName=name,
            lifecyclePolicyText=resolved["LifecyclePolicy"]["LifecyclePolicyText"],
        )
    return Identity(
        name, {"Arn": repository["repositoryArn"], "RepositoryUri": repository["repositoryUri"]}
    )


def _create_secret(world: World, stack: StackInfo, properties: dict[str, Any]) -> Identity:
    resolved = world.resolve(stack, properties)
    value = world.secret_values.get(
        (stack.name, properties["__logical_id__"]), json.dumps({"generated": resolved["__name__"]})
    )
    arguments: dict[str, Any] = {"Name": resolved["__name__"], "SecretString": value}
    if "KmsKeyId" in resolved:
        arguments["KmsKeyId"] = resolved["KmsKeyId"]
    arn = world.client("secretsmanager", stack).create_secret(**arguments)["ARN"]
    return Identity(arn, {"Id": arn})


_ALARM_KEYS = {
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Metrics",
    "ThresholdMetricId",
}


def _create_alarm(world: World, stack: StackInfo, properties: dict[str, Any]) -> Identity:
    resolved = world.resolve(stack, properties)
    name = resolved["__name__"]
    arguments = {key: value for key, value in resolved.items() if key in _ALARM_KEYS}
    if "Threshold" in arguments:
        arguments["Threshold"] = float(arguments["Threshold"])
    if resolved.get("Tags"):
        arguments["Tags"] = _tags(resolved)
    world.client("cloudwatch", stack).put_metric_alarm(AlarmName=name, **arguments)
    arn = f"arn:aws:cloudwatch:{stack.region}:{stack.account}:alarm:{name}"
    return Identity(name, {"Arn": arn})


def _create_parameter(world: World, stack: StackInfo, properties: dict[str, Any]) -> Identity:
    resolved = world.resolve(stack, properties)
    name = resolved["__name__"]
    world.client("ssm", stack).put_parameter(
        Name=name, Value=str(resolved["Value"]), Type=resolved.get("Type", "String")
    )
    arn = f"arn:aws:ssm:{stack.region}:{stack.account}:parameter/{name.lstrip('/')}"
    return Identity(name, {"Arn": arn, "Value": resolved["Value"]})


def _create_log_group(world: World, stack: StackInfo, properties: dict[str, Any]) -> Identity:
    resolved = world.resolve(stack, properties)
    name = resolved["__name__"]
    world.client("logs", stack).create_log_group(logGroupName=name)
    return Identity(
        name, {"Arn": f"arn:aws:logs:{stack.region}:{stack.account}:log-group:{name}:*"}
    )


def _create_user_pool(world: World, stack: StackInfo, properties: dict[str, Any]) -> Identity:
    """The pool as the checks meet it: its sign-in attribute, MFA mode and password policy."""
    resolved = world.resolve(stack, properties)
    arguments = {
        key: resolved[key]
        for key in ("UsernameAttributes", "AutoVerifiedAttributes", "MfaConfiguration")
        if key in resolved
    }
    if "Policies" in resolved:
        arguments["Policies"] = {"PasswordPolicy": resolved["Policies"]["PasswordPolicy"]}
    cognito = world.client("cognito-idp", stack)
    pool = cognito.create_user_pool(PoolName=resolved["__name__"], **arguments)["UserPool"]
    return Identity(
        pool["Id"],
        {
            "Arn": pool["Arn"],
            "UserPoolId": pool["Id"],
            "ProviderName": f"cognito-idp.{stack.region}.amazonaws.com/{pool['Id']}",
            "ProviderURL": f"https://cognito-idp.{stack.region}.amazonaws.com/{pool['Id']}",
        },
    )


def _create_user_pool_client(
    world: World, stack: StackInfo, properties: dict[str, Any]
) -> Identity:
    resolved = world.resolve(stack, properties)
    client = world.client("cognito-idp", stack).create_user_pool_client(
        UserPoolId=resolved["UserPoolId"],
        ClientName=resolved.get("ClientName", resolved["__name__"]),
        ExplicitAuthFlows=resolved.get("ExplicitAuthFlows", []),
    )["UserPoolClient"]
    return Identity(client["ClientId"], {"ClientId": client["ClientId"]})


CREATORS: dict[str, Creator] = {
    "AWS::Cognito::UserPool": _create_user_pool,
    "AWS::Cognito::UserPoolClient": _create_user_pool_client,
    "AWS::Logs::LogGroup": _create_log_group,
    "AWS::KMS::Key": _create_key,
    "AWS::SNS::Topic": _create_topic,
    "AWS::SQS::Queue": _create_queue,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::ECR::Repository": _create_repository,
    "AWS::SecretsManager::Secret": _create_secret,
    "AWS::CloudWatch::Alarm": _create_alarm,
    "AWS::SSM::Parameter": _create_parameter,
}


# -------------------------------------------------------------------- resource policies


def _attach_bucket_policy(world: World, stack: StackInfo, properties: dict[str, Any]) -> None:
    world.client("s3", stack).put_bucket_policy(
        Bucket=properties["Bucket"], Policy=json.dumps(properties["PolicyDocument"])
    )


def _attach_topic_policy(world: World, stack: StackInfo, properties: dict[str, Any]) -> None:
    sns = world.client("sns", stack)
    for topic in properties["Topics"]:
        sns.set_topic_attributes(
            TopicArn=topic,
            AttributeName="Policy",
            AttributeValue=json.dumps(properties["PolicyDocument"]),
        )


def _attach_queue_policy(world: World, stack: StackInfo, properties: dict[str, Any]) -> None:
    sqs = world.client("sqs", stack)
    for queue in properties["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=queue, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
        )


def _attribute_value(value: Any) -> str:
    """An attribute as the SNS API takes it: JSON for a policy, "true"/"false" for a flag."""
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _attach_subscription(world: World, stack: StackInfo, properties: dict[str, Any]) -> None:
    """An SQS subscription as CloudFormation makes it: raw delivery and the filter included,
    so the local SNS fans out to exactly the queues and event types AWS would."""
    attributes = {
        key: _attribute_value(properties[key])
        for key in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope")
        if key in properties
    }
    world.client("sns", stack).subscribe(
        TopicArn=properties["TopicArn"],
        Protocol=properties["Protocol"],
        Endpoint=properties["Endpoint"],
        Attributes=attributes,
    )


def _attach_secret_policy(world: World, stack: StackInfo, properties: dict[str, Any]) -> None:
    world.client("secretsmanager", stack).put_resource_policy(
        SecretId=properties["SecretId"], ResourcePolicy=json.dumps(properties["ResourcePolicy"])
    )


POLICY_ATTACHERS: dict[str, Callable[[World, StackInfo, dict[str, Any]], None]] = {
    "AWS::S3::BucketPolicy": _attach_bucket_policy,
    "AWS::SNS::TopicPolicy": _attach_topic_policy,
    "AWS::SQS::QueuePolicy": _attach_queue_policy,
    "AWS::SNS::Subscription": _attach_subscription,
    "AWS::SecretsManager::ResourcePolicy": _attach_secret_policy,
}
