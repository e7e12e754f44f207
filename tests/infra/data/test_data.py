"""The data of each environment (stateful stack): Aurora Serverless v2, RDS Proxy, secret, key."""

from __future__ import annotations

from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig
from tests.support.assembly import Assembly, part, properties, ref_target, resources


@pytest.fixture(scope="module")
def template(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> dict[str, Any]:
    return part(assembly.template(f"{config.project.name}-{env.name}-stateful"), "Database")


def _cluster(template: dict[str, Any]) -> dict[str, Any]:
    (cluster,) = resources(template, "AWS::RDS::DBCluster").values()
    return cluster


def test_aurora_postgresql_current_engine_in_isolated_subnets(template: dict[str, Any]) -> None:
    props = _cluster(template)["Properties"]
    assert props["Engine"] == "aurora-postgresql"
    major = int(props["EngineVersion"].split(".")[0])
    assert major >= 16
    (subnet_group,) = properties(template, "AWS::RDS::DBSubnetGroup")
    assert len(subnet_group["SubnetIds"]) >= 2
    # The subnet ids are the isolated subnets of the same (stateful) stack.
    assert all("isolated" in str(subnet).lower() for subnet in subnet_group["SubnetIds"])


def test_capacity_follows_config(template: dict[str, Any], env: EnvironmentConfig) -> None:
    scaling = _cluster(template)["Properties"]["ServerlessV2ScalingConfiguration"]
    assert scaling["MinCapacity"] == env.database.min_acu
    assert scaling["MaxCapacity"] == env.database.max_acu
    if env.database.min_acu == 0:
        assert scaling["SecondsUntilAutoPause"] == 300
    else:
        assert "SecondsUntilAutoPause" not in scaling
    instances = properties(template, "AWS::RDS::DBInstance")
    assert len(instances) == (2 if env.database.reader else 1)
    assert all(i["DBInstanceClass"] == "db.serverless" for i in instances)


def test_prod_has_a_reader_and_never_pauses(config: DeliveryConfig) -> None:
    prod = config.environment("prod")
    assert prod.database.reader and prod.database.min_acu >= 0.5
    assert config.environment("dev").database.min_acu == 0


def test_storage_is_encrypted_with_a_rotating_customer_key(template: dict[str, Any]) -> None:
    props = _cluster(template)["Properties"]
    assert props["StorageEncrypted"] is True
    key = ref_target(template, props["KmsKeyId"])
    assert key["Properties"]["EnableKeyRotation"] is True


def test_backups_deletion_protection_and_removal_follow_config(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    cluster = _cluster(template)
    props = cluster["Properties"]
    assert props["BackupRetentionPeriod"] == env.database.backup_retention_days
    assert props.get("DeletionProtection", False) is env.protect_data
    if env.protect_data:
        assert cluster["DeletionPolicy"] == "Snapshot"
        assert cluster["UpdateReplacePolicy"] == "Snapshot"
        # Instances hold no data in Aurora (the cluster volume does, and is snapshotted).
        for resource_type in (
            "AWS::SecretsManager::Secret",
            "AWS::KMS::Key",
            "AWS::Logs::LogGroup",
        ):
            for resource in resources(template, resource_type).values():
                assert resource["DeletionPolicy"] == "RetainExceptOnCreate", resource_type
                assert resource["UpdateReplacePolicy"] == "Retain", resource_type
    else:
        assert cluster["DeletionPolicy"] == "Delete"


def test_backup_retention_is_7_days_in_dev_and_30_in_prod(assembly: Assembly) -> None:
    retention = {
        env: _cluster(assembly.template(f"todo-{env}-stateful"))["Properties"][
            "BackupRetentionPeriod"
        ]
        for env in ("dev", "prod")
    }
    assert retention == {"dev": 7, "prod": 30}


def test_performance_insights_where_configured(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    props = _cluster(template)["Properties"]
    assert props.get("PerformanceInsightsEnabled", False) is env.database.performance_insights
    if env.database.performance_insights:
        assert props["PerformanceInsightsKmsKeyId"] == props["KmsKeyId"]


def test_proxy_requires_tls_and_reads_the_generated_secret(template: dict[str, Any]) -> None:
    (proxy,) = properties(template, "AWS::RDS::DBProxy")
    assert proxy["RequireTLS"] is True
    assert proxy["EngineFamily"] == "POSTGRESQL"
    (auth,) = proxy["Auth"]
    secret = ref_target(template, auth["SecretArn"])
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert "GenerateSecretString" in secret["Properties"]


def test_secret_is_encrypted_with_the_key_and_rotated(template: dict[str, Any]) -> None:
    (secret_id,) = resources(template, "AWS::SecretsManager::Secret")
    secret = template["Resources"][secret_id]
    assert ref_target(template, secret["Properties"]["KmsKeyId"])["Type"] == "AWS::KMS::Key"
    (schedule,) = properties(template, "AWS::SecretsManager::RotationSchedule")
    assert schedule["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    assert schedule["HostedRotationLambda"]["RotationType"] == "PostgreSQLSingleUser"
    (attachment,) = properties(template, "AWS::SecretsManager::SecretTargetAttachment")
    assert attachment["TargetType"] == "AWS::RDS::DBCluster"


def test_database_logs_have_the_configured_retention(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    (log_group,) = properties(template, "AWS::Logs::LogGroup")
    assert log_group["RetentionInDays"] == env.log_retention_days
    assert "KmsKeyId" in log_group
    assert log_group["LogGroupName"].endswith("-cluster/postgresql")
    assert _cluster(template)["Properties"]["EnableCloudwatchLogsExports"] == ["postgresql"]


def test_cluster_accepts_postgresql_only_from_the_proxy_and_rotation(
    template: dict[str, Any],
) -> None:
    ingress = properties(template, "AWS::EC2::SecurityGroupIngress")
    assert ingress, "ingress rules are separate resources"
    port = {"Fn::GetAtt": [next(iter(resources(template, "AWS::RDS::DBCluster"))), "Endpoint.Port"]}
    assert all(rule["FromPort"] == rule["ToPort"] in (5432, port) for rule in ingress)
    assert all("SourceSecurityGroupId" in rule for rule in ingress)
    for group in properties(template, "AWS::EC2::SecurityGroup"):
        assert not any(
            rule.get("CidrIp") == "0.0.0.0/0" for rule in group.get("SecurityGroupIngress", [])
        )
