"""The stateful stack of one environment: what must never be replaced.

The VPC and its log key, the event topic, the consumers' queues and dead-letter queues with
their keys, the Aurora cluster, its proxy and secret, the Cognito user pool (the users) and
its domain. It changes rarely, keeps termination
protection and the retain policies, and references nothing in the environment's other stacks,
so it deploys first (beside the edge stack) and never waits on, or exports to, a stack it
could not then drop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct

from config.model import AuthConfig, DatabaseConfig, NetworkConfig
from infra.auth.user_pool import UserPool
from infra.data.database import Database
from infra.environment_stack import EnvironmentStack
from infra.messaging import add_messaging
from infra.network.network import Network
from infra.service_grants import allow_log_encryption


class StatefulStack(EnvironmentStack):
    """Every construct keeps the construct id (so the logical ids) it had in the former
    network, messaging and data stacks."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        network: NetworkConfig,
        consumers: Mapping[str, Sequence[str]],
        max_receive_count: int,
        database: DatabaseConfig,
        cluster_identifier: str,
        auth: AuthConfig,
        auth_domain_prefix: str,
        log_retention_days: int,
        protect_data: bool,
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
            cidr=network.cidr,
            max_azs=network.max_azs,
            nat_gateways=network.nat_gateways,
            flow_log_retention_days=network.flow_log_retention_days,
            log_encryption_key=self.log_key,
            removal_policy=removal_policy,
        )
        self.messaging = add_messaging(
            self,
            consumers=consumers,
            max_receive_count=max_receive_count,
            removal_policy=removal_policy,
        )
        self.database = Database(
            self,
            "Database",
            vpc=self.network.vpc,
            database=database,
            log_retention_days=log_retention_days,
            log_key=self.log_key,
            protect_data=protect_data,
            cluster_identifier=cluster_identifier,
        )
        self.auth = UserPool(
            self,
            "Auth",
            auth=auth,
            domain_prefix=auth_domain_prefix,
            protect_data=protect_data,
            removal_policy=removal_policy,
        )
