"""The network stack of one environment."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.environment_stack import EnvironmentStack
from infra.network.network import Network
from infra.service_grants import allow_log_encryption


class NetworkStack(EnvironmentStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        max_azs: int,
        nat_gateways: int,
        flow_log_retention_days: int,
        removal_policy: RemovalPolicy,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        self.log_key = kms.Key(
            self,
            "LogKey",
            description=f"Encrypts the CloudWatch log groups of {self.stack_name}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        # CloudWatch Logs uses the key on behalf of this account's log groups only.
        allow_log_encryption(self.log_key)

        self.network = Network(
            self,
            "Network",
            cidr=cidr,
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            flow_log_retention_days=flow_log_retention_days,
            log_encryption_key=self.log_key,
            removal_policy=removal_policy,
        )
