"""The Lambda function ECS runs after shifting test traffic to a new API revision.

It sits in the VPC's private subnets and reaches the internal load balancer's test listener,
which only its security group may reach; its checks are those of tests/deployed
(``runtime/deployed_checks``), so what the pipeline checks after a deploy is what blocks a bad
revision before users meet it.

Where the contract checks run, they call the API as a signed-in user: ``sign_in_checks`` gives
the function the pool and the checks' app client, the four Admin* calls on that one pool, and
HTTPS out to Cognito (through NAT: see there).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.auth.clients import CHECKS_ACTIONS
from infra.compliance import acknowledge_wildcards, ignore_cfn_lint, skip_checkov
from infra.escape_hatch import cfn_resource
from infra.retention import retention_days
from infra.service_grants import allow_log_streams

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
# Each check's requests time out after 10 s (hook.py); six checks and the check user's four
# Cognito calls (10 s each, hook.py) fit with room to spare.
TIMEOUT = Duration.minutes(2)
HTTPS = 443


class DeploymentHook(Construct):
    """The hook function, its security group, role and log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        test_url: str,
        checks: Sequence[str],
        log_key: kms.IKey,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            # EC2 refuses an apostrophe in a group description.
            description="Deployment hook: HTTP to the test listener of the load balancer only",
            allow_all_outbound=False,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention_days(log_retention_days),
            encryption_key=log_key,
            removal_policy=removal_policy,
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Runs the API's deployed checks against a new revision's test route",
        )
        self._grant(role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="deployed_checks.lambda_function.handler",
            code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=["__pycache__", "*.pyc"]),
            role=role,
            log_group=self.log_group,
            timeout=TIMEOUT,
            memory_size=256,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            environment={"TEST_URL": test_url, "CHECKS": ",".join(checks)},
        )
        self._role = role
        self._explain(role)

    def sign_in_checks(self, *, user_pool_id: str, user_pool_arn: str, client_id: str) -> None:
        """Let the contract checks sign a throwaway user in (runtime/.../signin.py).

        Called by the stateless stack once the checks' client exists (infra/auth/clients.py);
        environments without one (prod: smoke only) never call it, and their hook has no
        Cognito permission, variable or route. The role may make exactly the checks' four
        Admin* calls, on this pool only.

        Cognito is reached through NAT, not a ``cognito-idp`` interface endpoint: a user pool
        with a domain (this one has the managed login domain) cannot be reached through one
        (Cognito's PrivateLink documentation,
        https://docs.aws.amazon.com/cognito/latest/developerguide/vpc-interface-endpoints.html).
        Its addresses are not published as a range or a managed prefix list, so the narrowest
        rule EC2 allows is TCP 443 to any IPv4 address; TLS names the endpoint. The group's
        description is left as it was: a changed description replaces the group.
        """
        self.function.add_environment("CHECKS_USER_POOL_ID", user_pool_id)
        self.function.add_environment("CHECKS_CLIENT_ID", client_id)
        self._role.add_to_policy(
            iam.PolicyStatement(actions=list(CHECKS_ACTIONS), resources=[user_pool_arn])
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(HTTPS),
            "HTTPS to cognito-idp through NAT for the check user (no endpoint with a domain)",
        )

    def _grant(self, role: iam.Role) -> None:
        """Its own log group, and the network interfaces Lambda makes for it in the VPC.

        Lambda creates and deletes the function's interfaces with the execution role.
        https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
        """
        stack = Stack.of(self)

        def ec2_arn(resource: str) -> str:
            return stack.format_arn(service="ec2", resource=resource, resource_name="*")

        allow_log_streams(role, self.log_group)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ec2:CreateNetworkInterface"],
                resources=[
                    ec2_arn("network-interface"),
                    ec2_arn("subnet"),
                    ec2_arn("security-group"),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=[ec2_arn("network-interface")],
            )
        )
        # Describe* has no resource-level form: IAM accepts only Resource "*".
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                resources=["*"],
            )
        )

    def _explain(self, role: iam.Role) -> None:
        acknowledge_wildcards(
            cfn_resource(role.node.find_child("DefaultPolicy"), iam.CfnPolicy),
            "Lambda manages the function's VPC network interfaces with its execution role: "
            "their ids are unknown before Lambda makes them, and EC2's Describe actions accept "
            "only Resource '*'; log streams are those of this function's own log group",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_116",
            "ECS invokes the hook synchronously and reads its answer; a dead-letter queue only "
            "serves asynchronous invocations",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_115",
            "a new account's concurrency quota of 10 refuses any reservation (Lambda keeps 10 "
            "unreserved), and ECS invokes the hook once per deployment",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_45",
            "its variables are the internal load balancer's address and the check markers "
            "(and where checks sign in, the user pool and app client ids: no secrets)",
        )
        skip_checkov(
            self.function,
            "CKV_AWS_173",
            "its variables are the load balancer's internal address and the check markers "
            "(and where checks sign in, the user pool and app client ids), not secrets",
        )
        ignore_cfn_lint(
            self.function,
            "W3005",
            "CDK makes the function depend on its role and the role's policy so the network "
            "interface permissions exist before Lambda creates the function's interfaces",
        )
