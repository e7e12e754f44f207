"""The self-mutating delivery pipeline: GitHub -> build -> dev -> approval -> staging -> ..."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, Stage, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as codepipeline_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from config.model import DeliveryConfig, EnvironmentConfig
from config.names import (
    approval_stage_name,
    checks_role_name,
    lookup_role_arn,
    pipeline_name,
    protected_image_bound,
    release_parameter_name,
    verify_role_name,
)
from infra.access_logs import AccessLogBucket
from infra.escape_hatch import cfn_resource
from infra.images import ServiceImage
from infra.removal import retain_except_on_create
from infra.service_grants import allow_log_encryption
from infra.stage import EnvironmentStage, apply_cost_tags
from pipeline.acknowledgments import (
    explain_generated_resources,
    explain_images_project,
    explain_replication_bucket,
    explain_replication_key_grant,
)
from pipeline.buildspec import Buildspec, Buildspecs
from pipeline.delivery_metrics.construct import DeliveryMetrics
from pipeline.github_oidc import GitHubOidc
from pipeline.image_repositories import ImageRepositories
from pipeline.notifications import DeliveryNotifications
from pipeline.stage_conditions import roll_back_and_gate_stages
from pipeline.steps import CheckSignIn, change_report_step, report_key, verify_step

# Ubuntu 24.04; its runtimes include Node.js 24 (LTS) and Python 3.11, the pair the buildspecs
# pin (standard:7.0 stops at Node.js 20, past its end of life).
# https://docs.aws.amazon.com/codebuild/latest/userguide/available-runtimes.html
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_8_0
BUILD_LOG_RETENTION = logs.RetentionDays.ONE_YEAR
IMAGES_TIMEOUT_MINUTES = 60
# Changes only to these paths cannot alter a deployment, so they do not start the pipeline.
NON_DEPLOYABLE_PATHS = ("docs/**", "**/*.md")


class PipelineStack(Stack):
    """The delivery pipeline and the stage of every environment it deploys.

    Around them: the images action beside Synth, change reports and approvals, notifications,
    delivery metrics and the GitHub drift role.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeliveryConfig,
        cli_version: str,
        buildspecs: Buildspecs,
        images: Mapping[str, ServiceImage],
        web_dist: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        name = pipeline_name(config.project.name)
        source = pipelines.CodePipelineSource.connection(
            config.pipeline.source.repository,
            config.pipeline.source.branch,
            connection_arn=config.pipeline.source.connection_arn,
            trigger_on_push=True,
        )
        self.build_log_key, self.build_logs = self._build_logs()
        synth = _synth_step(source, buildspecs.synth)
        self.pipeline = self._code_pipeline(
            config,
            pipeline_name=name,
            synth=synth,
            synth_buildspec=buildspecs.synth,
            cli_version=cli_version,
        )
        self.notifications = DeliveryNotifications(
            self, "Notifications", emails=config.pipeline.notification_emails
        )
        self.access_logs = AccessLogBucket(
            self,
            "AccessLogs",
            expiration=Duration.days(365),
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        self.reports = self._change_reports()
        self.image_repositories = self._image_repositories(config, images=images)
        self.stages = self._environment_stages(
            config,
            images=images,
            web_dist=web_dist,
            buildspecs=buildspecs,
            source=source,
            assembly=synth,
        )

        # Build now so the generated resources exist for what follows.
        self.pipeline.build_pipeline()
        self.images_project = self._images_beside_synth(config, buildspec=buildspecs.images)
        roll_back_and_gate_stages(self.pipeline.pipeline, config=config)
        self._trigger_on_deployable_changes(config)
        self._notify_on_executions()
        self.delivery_metrics = DeliveryMetrics(
            self,
            "DeliveryMetrics",
            pipeline=self.pipeline.pipeline,
            pipeline_name=name,
            environment_stages=[environment.name for environment in config.environments],
        )
        self._harden_artifact_buckets()
        explain_generated_resources(self.pipeline, cross_account=config.cross_account)
        explain_images_project(self.images_project, cross_account=config.cross_account)
        self.github = self._github_drift_role(config)
        self._apply_cost_tags(config)
        # CDK Pipelines retains its artifact buckets (the replicas have fixed names): a failed
        # first create must delete them, or the retry fails with "already exists".
        retain_except_on_create(self)
        for support in self.pipeline.pipeline.cross_region_support.values():
            retain_except_on_create(support.stack)

    def _build_logs(self) -> tuple[kms.Key, logs.LogGroup]:
        """The encrypted log group every CodeBuild project of the pipeline writes to."""
        key = kms.Key(
            self,
            "BuildLogKey",
            description="Encrypts the CodeBuild logs of the delivery pipeline",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        # Without it CloudWatch Logs refuses the key and the first create rolls back.
        allow_log_encryption(key)
        log_group = logs.LogGroup(
            self,
            "BuildLogs",
            retention=BUILD_LOG_RETENTION,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        return key, log_group

    def _code_pipeline(
        self,
        config: DeliveryConfig,
        *,
        pipeline_name: str,
        synth: pipelines.CodeBuildStep,
        synth_buildspec: Buildspec,
        cli_version: str,
    ) -> pipelines.CodePipeline:
        """The self-mutating CDK pipeline, its CodeBuild projects on the Synth step's runtimes."""
        return pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
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
                # CDK Pipelines' own projects (self-mutation, asset publishing) name no runtime
                # and would get whatever the image defaults to: pin the Synth step's.
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {
                        "version": "0.2",
                        "phases": {
                            "install": {"runtime-versions": synth_buildspec.runtime_versions}
                        },
                    }
                ),
                logging=codebuild.LoggingOptions(
                    cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.build_logs)
                ),
                timeout=Duration.minutes(30),
            ),
        )

    def _change_reports(self) -> s3.Bucket:
        """Where the change report of each approval is stored (the approval links to it)."""
        reports = s3.Bucket(
            self,
            "ChangeReports",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(400))],
        )
        self.access_logs.accept_logs_from(reports, prefix="change-reports/")
        return reports

    def _image_repositories(
        self, config: DeliveryConfig, *, images: Mapping[str, ServiceImage]
    ) -> ImageRepositories:
        """One repository per service image: built once per execution, promoted unchanged."""
        pull_accounts = {env.account for env in config.environments} - {config.pipeline.account}
        return ImageRepositories(
            self,
            "ImageRepositories",
            images=images,
            pull_accounts=pull_accounts,
            protected_images=protected_image_bound(len(config.environments)),
        )

    def _images_beside_synth(
        self, config: DeliveryConfig, *, buildspec: Buildspec
    ) -> codebuild.PipelineProject:
        """Build, push and scan-gate the images in the Build stage, beside Synth.

        The images depend on the source alone, so they need not wait for Synth, the
        self-mutation and the file assets. CDK Pipelines cannot put a step in its Build stage,
        so the action goes into the generated CodePipeline (its stages are an aws_codepipeline
        Pipeline's); a failed scan gate fails the Build stage, before every environment.
        """
        pipeline = self.pipeline.pipeline
        source_stage, build_stage = pipeline.stages[0], pipeline.stages[1]
        if (source_stage.stage_name, build_stage.stage_name) != ("Source", "Build"):
            raise ValueError("CDK Pipelines no longer starts with the Source and Build stages")
        (source_output,) = source_stage.actions[0].action_properties.outputs or []
        project = codebuild.PipelineProject(
            self,
            "Images",
            build_spec=codebuild.BuildSpec.from_object(buildspec.document()),
            environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE, privileged=True),
            environment_variables={
                "SCAN_THRESHOLD": codebuild.BuildEnvironmentVariable(
                    value=config.pipeline.image_scan_fail_on
                )
            },
            # The key of the artifacts it reads (None: the AWS managed key, one account).
            encryption_key=pipeline.artifact_bucket.encryption_key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.build_logs)
            ),
            # What the two steps it replaces had together: the builds, then up to 15 minutes
            # of waiting for ECR's scans (ops/images/scan_gate.py).
            timeout=Duration.minutes(IMAGES_TIMEOUT_MINUTES),
        )
        repositories = self.image_repositories
        for statement in [*repositories.push_statements(), *repositories.scan_read_statements()]:
            project.add_to_role_policy(statement)
        build_stage.add_action(
            codepipeline_actions.CodeBuildAction(
                action_name="Images",
                input=source_output,
                project=project,
                run_order=1,  # Synth's: side by side
                environment_variables={
                    # In the pipeline's own definition: a new repository changes the pipeline,
                    # so the self-mutation restarts the execution (ops/images/build.py).
                    "IMAGE_REPOSITORIES": codebuild.BuildEnvironmentVariable(
                        value=" ".join(repositories.names)
                    )
                },
            )
        )
        return project

    def _environment_stages(
        self,
        config: DeliveryConfig,
        *,
        images: Mapping[str, ServiceImage],
        web_dist: Path,
        buildspecs: Buildspecs,
        source: pipelines.IFileSetProducer,
        assembly: pipelines.IFileSetProducer,
    ) -> dict[str, EnvironmentStage]:
        """One stage per environment, in the configured order, with its approval and checks.

        The change report of a gated environment after the first runs in the stage before,
        beside that stage's Verify action (the report reads only what is deployed there and
        this commit's templates); its approval, the next stage's first action, still follows
        it and links to it.
        """
        stages: dict[str, EnvironmentStage] = {}
        environments = list(config.environments)
        for index, environment in enumerate(environments):
            stage = EnvironmentStage(
                self,
                environment.name,
                project=config.project,
                registry=config.services,
                environment=environment,
                images=images,
                web_dist=web_dist,
                checks_trusted_account=config.pipeline.account,
            )
            if environment.approval_required:
                # A stage of its own: the deploy stage's entry conditions (the previous
                # environment healthy, the deployment window) are then judged after the click,
                # not hours before it, and a rollback of the deploy stage waits for nobody.
                approval = self._approval_step(environment)
                pre: list[pipelines.Step] = []
                if index == 0:
                    report = self._change_report_step(
                        environment, buildspecs=buildspecs, source=source, assembly=assembly
                    )
                    approval.add_step_dependency(report)
                    pre = [report]
                self.pipeline.add_wave(approval_stage_name(environment.name), pre=[*pre, approval])
            post: list[pipelines.Step] = [
                self._verify_step(
                    config, environment, stage=stage, buildspecs=buildspecs, source=source
                )
            ]
            following = environments[index + 1] if index + 1 < len(environments) else None
            if following is not None and following.approval_required:
                # No dependency on Verify: the two run side by side.
                post.append(
                    self._change_report_step(
                        following, buildspecs=buildspecs, source=source, assembly=assembly
                    )
                )
            self.pipeline.add_stage(stage, post=post)
            stages[environment.name] = stage
        return stages

    def _notify_on_executions(self) -> None:
        self.pipeline.pipeline.notify_on(
            "Notify",
            self.notifications.rule_target,
            events=[
                codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
                codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
                # The last stage is production: a succeeded execution is a production release.
                codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_SUCCEEDED,
            ],
        )

    def _harden_artifact_buckets(self) -> None:
        """The generated artifact buckets: logged, versioned, expiring, their findings explained."""
        artifact_bucket = self.pipeline.pipeline.artifact_bucket
        self.access_logs.accept_logs_from(artifact_bucket, prefix="pipeline-artifacts/")
        _version_artifacts(artifact_bucket)
        # Stages with us-east-1 stacks (the CloudFront web ACL) make CodePipeline add a
        # support stack per extra region holding a replica artifact bucket.
        if self.pipeline.pipeline.cross_region_support:
            explain_replication_key_grant(self.pipeline)
        for support in self.pipeline.pipeline.cross_region_support.values():
            _version_artifacts(support.replication_bucket)
            explain_replication_bucket(support.replication_bucket)

    def _github_drift_role(self, config: DeliveryConfig) -> GitHubOidc:
        """GitHub Actions' drift workflow: read-only, keyless, this repository's branch only."""
        github = GitHubOidc(
            self,
            "GitHubOidc",
            repository=config.pipeline.source.repository,
            branch=config.pipeline.source.branch,
            drift_role_name=config.drift_role_name,
            lookup_role_arns=self._drift_lookup_role_arns(),
            existing_provider_arn=config.pipeline.github.oidc_provider_arn,
        )
        CfnOutput(
            self,
            "GitHubDriftRoleArn",
            value=github.drift_role.role_arn,
            description="Set as the GitHub repository variable AWS_DRIFT_ROLE_ARN",
        )
        return github

    def _apply_cost_tags(self, config: DeliveryConfig) -> None:
        """The tooling account's cost allocation: the environments' keys, environment "pipeline".

        The environment stages nested here tag themselves.
        """
        pipeline_tags = {
            "project": config.project.name,
            "environment": "pipeline",
            "owner": config.project.owner,
            "cost-center": config.project.cost_center,
        }
        for child in self.node.children:
            if not isinstance(child, Stage):
                apply_cost_tags(child, pipeline_tags)
        for support in self.pipeline.pipeline.cross_region_support.values():
            apply_cost_tags(support.stack, pipeline_tags)

    def _report_url(self, environment: str) -> str:
        """The console page of this execution's change report of ``environment``."""
        return (
            f"https://{self.region}.console.aws.amazon.com/s3/object/{self.reports.bucket_name}"
            f"?region={self.region}&prefix={report_key(environment)}"
        )

    def _change_report_step(
        self,
        environment: EnvironmentConfig,
        *,
        buildspecs: Buildspecs,
        source: pipelines.IFileSetProducer,
        assembly: pipelines.IFileSetProducer,
    ) -> pipelines.CodeBuildStep:
        """What deploying this commit would change in ``environment``: stored and announced."""
        return change_report_step(
            environment,
            buildspec=buildspecs.change_report,
            source=source,
            assembly=assembly,
            report_bucket_name=self.reports.bucket_name,
            report_bucket_arn=self.reports.bucket_arn,
            report_url=self._report_url(environment.name),
            topic_arn=self.notifications.topic.topic_arn,
            publish_statements=self.notifications.publish_statements(),
            fail_on_wildcard=environment.permissions_check,
        )

    def _approval_step(self, environment: EnvironmentConfig) -> pipelines.ManualApprovalStep:
        """The approval of ``environment``: it links to the change report of this execution."""
        return pipelines.ManualApprovalStep(
            f"Approve-{environment.name}",
            comment=(
                f"Promote this commit to {environment.name} "
                f"(aws://{environment.account}/{environment.region})? "
                "Read the change report first."
            ),
            review_url=self._report_url(environment.name),
            notification_topic=self.notifications.topic,
        )

    def _verify_step(
        self,
        config: DeliveryConfig,
        environment: EnvironmentConfig,
        *,
        stage: EnvironmentStage,
        buildspecs: Buildspecs,
        source: pipelines.IFileSetProducer,
    ) -> pipelines.CodeBuildStep:
        """Check the site, bake with every alarm quiet, then record what now runs there."""
        return verify_step(
            environment,
            buildspec=buildspecs.verify,
            source=source,
            site_url=stage.stateless.site_url,
            parameter_arn=self._release_parameter_arn(config, environment.name),
            history_parameter_arns=[
                self._release_parameter_arn(config, env.name) for env in config.environments
            ],
            image_statements=self.image_repositories.release_record_statements(),
            sign_in=self._check_sign_in(config, environment, stage),
        )

    def _check_sign_in(
        self, config: DeliveryConfig, environment: EnvironmentConfig, stage: EnvironmentStage
    ) -> CheckSignIn | None:
        """What the environment's checks sign a test user in with, where they do."""
        pool_id, client_id = stage.stateless.checks_user_pool_id, stage.stateless.checks_client_id
        if pool_id is None or client_id is None:
            return None
        name = checks_role_name(config.project.name, environment.name)
        # Under the CodePipeline construct, with the roles CDK Pipelines makes for the others
        # (pipeline/acknowledgments.py reasons about its generated policy there).
        step_role = iam.Role(
            self.pipeline,
            f"Verify{environment.name.title().replace('-', '')}StepRole",
            role_name=verify_role_name(config.project.name, environment.name),
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=f"The Verify step of {environment.name} (the checks role trusts it)",
        )
        return CheckSignIn(
            user_pool_id=pool_id,
            client_id=client_id,
            role_arn=f"arn:aws:iam::{environment.account}:role/{name}",
            step_role=step_role,
        )

    def _release_parameter_arn(self, config: DeliveryConfig, environment: str) -> str:
        return self.format_arn(
            service="ssm",
            resource="parameter",
            resource_name=release_parameter_name(config.project.name, environment).lstrip("/"),
        )

    def _drift_lookup_role_arns(self) -> list[str]:
        """The lookup role of every account and region a stack of this pipeline lives in.

        Read from the stacks rather than the config: this stack, its cross-region support
        stacks and the environments' us-east-1 edge stacks drift like any other.
        """
        targets = {(self.account, self.region)}
        targets.update(
            (self.account, region) for region in self.pipeline.pipeline.cross_region_support
        )
        for stage in self.stages.values():
            targets.update(
                (child.account, child.region)
                for child in stage.node.children
                if isinstance(child, Stack)
            )
        return sorted(lookup_role_arn(account, region) for account, region in targets)

    def _trigger_on_deployable_changes(self, config: DeliveryConfig) -> None:
        """Pushes that only touch docs cannot change a deployment: they start nothing."""
        source_action = self.pipeline.pipeline.stages[0].actions[0]
        self.pipeline.pipeline.add_trigger(
            provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
            git_configuration=codepipeline.GitConfiguration(
                source_action=source_action,
                push_filter=[
                    codepipeline.GitPushFilter(
                        branches_includes=[config.pipeline.source.branch],
                        file_paths_excludes=list(NON_DEPLOYABLE_PATHS),
                    )
                ],
            ),
        )


def _synth_step(
    source: pipelines.IFileSetProducer, buildspec: Buildspec
) -> pipelines.CodeBuildStep:
    """The Synth step (buildspecs/synth.yml): its cdk.out is what every stage deploys."""
    return pipelines.CodeBuildStep(
        "Synth",
        input=source,
        install_commands=buildspec.install_commands,
        commands=buildspec.commands,
        partial_build_spec=codebuild.BuildSpec.from_object(buildspec.partial),
        primary_output_directory="cdk.out",
        build_environment=codebuild.BuildEnvironment(
            build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.MEDIUM
        ),
        timeout=Duration.minutes(30),
    )


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
