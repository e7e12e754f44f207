"""The self-mutating delivery pipeline: GitHub -> build -> dev -> approval -> staging -> ..."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.access_logs import AccessLogBucket
from infra.escape_hatch import cfn_resource
from pipeline.acknowledgments import (
    explain_generated_resources,
    explain_replication_bucket,
    explain_replication_key_grant,
)
from pipeline.buildspec import Buildspec
from pipeline.config import DeliveryConfig
from pipeline.images import ServiceImage
from pipeline.stage import EnvironmentStage

BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
BUILD_LOG_RETENTION = logs.RetentionDays.ONE_YEAR


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeliveryConfig,
        cli_version: str,
        synth_buildspec: Buildspec,
        images: Mapping[str, ServiceImage],
        web_dist: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        source = pipelines.CodePipelineSource.connection(
            config.pipeline.source.repository,
            config.pipeline.source.branch,
            connection_arn=config.pipeline.source.connection_arn,
            trigger_on_push=True,
        )

        self.build_log_key = kms.Key(
            self,
            "BuildLogKey",
            description="Encrypts the CodeBuild logs of the delivery pipeline",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.build_logs = logs.LogGroup(
            self,
            "BuildLogs",
            retention=BUILD_LOG_RETENTION,
            encryption_key=self.build_log_key,
            removal_policy=RemovalPolicy.RETAIN,
        )

        synth = pipelines.CodeBuildStep(
            "Synth",
            input=source,
            install_commands=synth_buildspec.install_commands,
            commands=synth_buildspec.commands,
            partial_build_spec=codebuild.BuildSpec.from_object(synth_buildspec.partial),
            primary_output_directory="cdk.out",
            build_environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.MEDIUM
            ),
            timeout=Duration.minutes(30),
        )

        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=f"{config.project.name}-delivery",
            pipeline_type=codepipeline.PipelineType.V2,
            synth=synth,
            self_mutation=True,
            cli_version=cli_version,
            # Serial publishing: one CodeBuild project per asset type instead of one per
            # asset, which keeps the pipeline small and the bill predictable.
            publish_assets_in_parallel=False,
            cross_account_keys=config.cross_account,
            enable_key_rotation=config.cross_account,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                logging=codebuild.LoggingOptions(
                    cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.build_logs)
                ),
                timeout=Duration.minutes(30),
            ),
        )

        self.stages: dict[str, EnvironmentStage] = {}
        for environment in config.environments:
            stage = EnvironmentStage(
                self,
                environment.name,
                project=config.project,
                environment=environment,
                images=images,
                web_dist=web_dist,
            )
            pre: list[pipelines.Step] = []
            if environment.approval_required:
                pre.append(
                    pipelines.ManualApprovalStep(
                        f"Approve-{environment.name}",
                        comment=(
                            f"Promote this commit to {environment.name} "
                            f"(aws://{environment.account}/{environment.region})?"
                        ),
                    )
                )
            self.pipeline.add_stage(stage, pre=pre)
            self.stages[environment.name] = stage

        # Build now so the generated resources exist for what follows.
        self.pipeline.build_pipeline()

        self.access_logs = AccessLogBucket(
            self, "AccessLogs", expiration=Duration.days(365), removal_policy=RemovalPolicy.RETAIN
        )
        self.access_logs.accept_logs_from(
            self.pipeline.pipeline.artifact_bucket, prefix="pipeline-artifacts/"
        )
        _version_artifacts(self.pipeline.pipeline.artifact_bucket)
        # Stages with us-east-1 stacks (the CloudFront web ACL) make CodePipeline add a
        # support stack per extra region holding a replica artifact bucket.
        if self.pipeline.pipeline.cross_region_support:
            explain_replication_key_grant(self.pipeline)
        for support in self.pipeline.pipeline.cross_region_support.values():
            _version_artifacts(support.replication_bucket)
            explain_replication_bucket(support.replication_bucket)
        explain_generated_resources(self.pipeline, cross_account=config.cross_account)


def _version_artifacts(bucket: s3.IBucket) -> None:
    """Keep overwritten pipeline artifacts for a while (investigations), then expire them."""
    cfn_bucket = cfn_resource(bucket, s3.CfnBucket)
    cfn_bucket.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(
        status="Enabled"
    )
    cfn_bucket.lifecycle_configuration = s3.CfnBucket.LifecycleConfigurationProperty(
        rules=[
            s3.CfnBucket.RuleProperty(
                id="expire-old-artifacts",
                status="Enabled",
                noncurrent_version_expiration=s3.CfnBucket.NoncurrentVersionExpirationProperty(
                    noncurrent_days=30
                ),
                abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                    days_after_initiation=1
                ),
            )
        ]
    )
