"""Aurora PostgreSQL Serverless v2 behind an RDS Proxy, its secret and key."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from config.model import DatabaseConfig
from infra.compliance import acknowledge_nag, ignore_cfn_lint, skip_checkov
from infra.retention import retention_days

# Current, non-deprecated Aurora PostgreSQL with Serverless v2 scale-to-zero and RDS Proxy.
ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_9
DATABASE_NAME = "todo"
PORT = 5432
ROTATION_INTERVAL = Duration.days(30)


class Database(Construct):
    """The Todo database: encrypted, backed up, rotated, reachable only through the proxy.

    The cluster lives in the isolated subnets (no route out of the VPC). Clients (the api and
    worker tasks) connect to the RDS Proxy over TLS; the proxy pools connections and reads the
    credentials from the generated secret, which Secrets Manager rotates every 30 days.
    """

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
        cluster_identifier: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cluster_identifier = cluster_identifier
        removal_policy = RemovalPolicy.SNAPSHOT if protect_data else RemovalPolicy.DESTROY
        key_removal_policy = (
            RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if protect_data else RemovalPolicy.DESTROY
        )
        self.key = self._key(removal_policy=key_removal_policy)
        self.secret = self._secret(removal_policy=key_removal_policy)
        self.cluster_security_group, self.proxy_security_group = self._security_groups(vpc)
        self.cluster = self._cluster(
            vpc=vpc, database=database, protect_data=protect_data, removal_policy=removal_policy
        )
        self.rotation_security_group, self.rotation = self._rotation(vpc)
        self.proxy = self._proxy(vpc)
        # Readable names for the outputs and the tasks' settings.
        self.proxy_endpoint = self.proxy.endpoint
        self.secret_arn = self.secret.secret_arn
        self._postgresql_logs(
            log_retention_days=log_retention_days,
            log_key=log_key,
            removal_policy=key_removal_policy,
        )
        self._explain(protect_data=protect_data)
        ignore_cfn_lint(
            self.proxy.node.find_child("ProxyTargetGroup"),
            "W3005",
            "CDK adds an explicit DependsOn on the cluster instances next to the Ref; redundant "
            "and harmless, the proxy still waits for the writer",
        )

    def _key(self, *, removal_policy: RemovalPolicy) -> kms.Key:
        return kms.Key(
            self,
            "DatabaseKey",
            description=(
                f"Encrypts the Aurora storage and database secret of {Stack.of(self).stack_name}"
            ),
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )

    def _secret(self, *, removal_policy: RemovalPolicy) -> rds.DatabaseSecret:
        """The generated admin credentials, encrypted with the database key."""
        secret = rds.DatabaseSecret(
            self,
            "Secret",
            username="todo_admin",
            encryption_key=self.key,
            exclude_characters=" %+~`#$&*()|[]{}:;<>?!'/@\"\\",
        )
        secret.apply_removal_policy(removal_policy)
        return secret

    def _security_groups(self, vpc: ec2.IVpc) -> tuple[ec2.SecurityGroup, ec2.SecurityGroup]:
        """The cluster's and the proxy's groups: the proxy is the clients' only way in."""
        cluster_security_group = ec2.SecurityGroup(
            self,
            "ClusterSecurityGroup",
            vpc=vpc,
            description="Aurora: PostgreSQL from the RDS Proxy and the rotation function only",
            allow_all_outbound=False,
        )
        proxy_security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            description="RDS Proxy: PostgreSQL from the application tasks only",
            allow_all_outbound=False,
        )
        proxy_security_group.add_egress_rule(
            cluster_security_group, ec2.Port.tcp(PORT), "to the Aurora cluster"
        )
        # The cluster's ingress from the proxy is added by add_proxy (_proxy).
        return cluster_security_group, proxy_security_group

    def _cluster(
        self,
        *,
        vpc: ec2.IVpc,
        database: DatabaseConfig,
        protect_data: bool,
        removal_policy: RemovalPolicy,
    ) -> rds.DatabaseCluster:
        """Aurora Serverless v2 in the isolated subnets, encrypted with the database key."""
        return rds.DatabaseCluster(
            self,
            "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION),
            credentials=rds.Credentials.from_secret(self.secret),
            default_database_name=DATABASE_NAME,
            port=PORT,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[self.cluster_security_group],
            writer=rds.ClusterInstance.serverless_v2(
                "Writer",
                enable_performance_insights=database.performance_insights,
                auto_minor_version_upgrade=True,
            ),
            readers=_readers(database),
            serverless_v2_min_capacity=database.min_acu,
            serverless_v2_max_capacity=database.max_acu,
            # At 0 ACU (dev) the cluster pauses after 5 idle minutes: only storage is billed.
            serverless_v2_auto_pause_duration=(
                Duration.minutes(5) if database.min_acu == 0 else None
            ),
            storage_encrypted=True,
            storage_encryption_key=self.key,
            iam_authentication=True,
            backup=rds.BackupProps(
                retention=Duration.days(database.backup_retention_days),
                preferred_window="02:00-03:00",
            ),
            preferred_maintenance_window="sun:03:30-sun:04:30",
            # Given by the stage, not derived from the stack's name: the cluster (and the log
            # group RDS names after it) keeps its name whichever stack holds it.
            cluster_identifier=self.cluster_identifier,
            cloudwatch_logs_exports=["postgresql"],
            copy_tags_to_snapshot=True,
            deletion_protection=protect_data,
            removal_policy=removal_policy,
            monitoring_interval=Duration.seconds(60) if protect_data else None,
            enable_performance_insights=database.performance_insights,
            performance_insight_encryption_key=self.key if database.performance_insights else None,
        )

    def _rotation(self, vpc: ec2.IVpc) -> tuple[ec2.SecurityGroup, secretsmanager.RotationSchedule]:
        """The secret's 30-day rotation by a hosted function that may reach the cluster."""
        # Rotation in the private subnets: it needs the Secrets Manager API (through NAT) and
        # the cluster, and nothing else.
        security_group = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=vpc,
            description="Secret rotation function: to Aurora and HTTPS to Secrets Manager",
            allow_all_outbound=True,
        )
        self.cluster_security_group.add_ingress_rule(
            security_group, ec2.Port.tcp(PORT), "from the rotation function"
        )
        rotation = self.secret.add_rotation_schedule(
            "Rotation",
            automatically_after=ROTATION_INTERVAL,
            hosted_rotation=secretsmanager.HostedRotation.postgre_sql_single_user(
                vpc=vpc,
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                security_groups=[security_group],
            ),
        )
        return security_group, rotation

    def _proxy(self, vpc: ec2.IVpc) -> rds.DatabaseProxy:
        """The RDS Proxy the tasks connect to over TLS with the secret's credentials."""
        return self.cluster.add_proxy(
            "Proxy",
            secrets=[self.secret],
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.proxy_security_group],
            require_tls=True,
            debug_logging=False,
            idle_client_timeout=Duration.minutes(30),
            max_connections_percent=90,
            borrow_timeout=Duration.seconds(30),
        )

    def _postgresql_logs(
        self, *, log_retention_days: int, log_key: kms.IKey, removal_policy: RemovalPolicy
    ) -> None:
        # The export's log group, created here (not by CDK's log-retention Lambda) so it is
        # encrypted and has the configured retention before the cluster writes to it.
        log_group = logs.LogGroup(
            self,
            "PostgresqlLogs",
            log_group_name=f"/aws/rds/cluster/{self.cluster_identifier}/postgresql",
            retention=retention_days(log_retention_days),
            encryption_key=log_key,
            removal_policy=removal_policy,
        )
        self.cluster.node.add_dependency(log_group)

    def _explain(self, *, protect_data: bool) -> None:
        writer = self.cluster.node.find_child("Writer")
        if protect_data:
            acknowledge_nag(
                self.cluster.node.find_child("MonitoringRole"),
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]",
                "AmazonRDSEnhancedMonitoringRole is the AWS-maintained policy RDS requires; it "
                "only allows writing OS metrics to the RDSOSMetrics log group",
            )
        else:
            acknowledge_nag(
                self.cluster,
                "AwsSolutions-RDS10",
                "dev data is disposable by config (protect_data = false); staging and prod "
                "turn deletion protection on, and tests assert it",
            )
            for instance in [writer]:
                skip_checkov(
                    instance,
                    "CKV_AWS_118",
                    "dev is disposable and cheap by design; staging and prod turn on enhanced "
                    "monitoring, and Performance Insights/CloudWatch metrics cover dev",
                )
        acknowledge_nag(
            self.cluster,
            "AwsSolutions-RDS11",
            "the default PostgreSQL port is reachable only from the proxy and rotation "
            "security groups inside isolated subnets; a custom port adds no protection",
        )


def _readers(database: DatabaseConfig) -> list[rds.IClusterInstance]:
    if not database.reader:
        return []
    # Promotion tier 1 and scaled with the writer: a failover target in another AZ.
    return [
        rds.ClusterInstance.serverless_v2(
            "Reader",
            scale_with_writer=True,
            enable_performance_insights=database.performance_insights,
            auto_minor_version_upgrade=True,
        )
    ]
