"""The data stack of one environment."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from config.model import DatabaseConfig
from infra.data.database import Database
from infra.environment_stack import EnvironmentStack


class DataStack(EnvironmentStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        database: DatabaseConfig,
        log_retention_days: int,
        log_key: kms.IKey,
        protect_data: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.database = Database(
            self,
            "Database",
            vpc=vpc,
            database=database,
            log_retention_days=log_retention_days,
            log_key=log_key,
            protect_data=protect_data,
        )
        self.cluster = self.database.cluster
        self.proxy = self.database.proxy
        self.secret = self.database.secret
        self.key = self.database.key
        self.proxy_security_group = self.database.proxy_security_group
