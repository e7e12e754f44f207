"""The synthesized AWS::CodePipeline::Pipeline: order, gates, source, build projects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.model import DeliveryConfig
from config.names import approval_stage_name
from config.paths import ROOT
from pipeline.buildspec import Buildspec
from tests.support.assembly import Assembly, properties, ref_target


@pytest.fixture(scope="module")
def pipeline(assembly: Assembly) -> dict[str, Any]:
    (props,) = properties(assembly.pipeline_template, "AWS::CodePipeline::Pipeline")
    return props


def _stage(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    return next(stage for stage in pipeline["Stages"] if stage["Name"] == name)


def _actions(stage: dict[str, Any], category: str) -> list[dict[str, Any]]:
    return [a for a in stage["Actions"] if a["ActionTypeId"]["Category"] == category]


def _build_project(assembly: Assembly, action: dict[str, Any]) -> dict[str, Any]:
    project = ref_target(
        assembly.pipeline_template, {"Ref": action["Configuration"]["ProjectName"]["Ref"]}
    )
    return dict(project["Properties"])


def test_pipeline_is_v2_and_restarts_itself_after_mutation(pipeline: dict[str, Any]) -> None:
    assert pipeline["PipelineType"] == "V2"
    assert pipeline["RestartExecutionOnUpdate"] is True


def test_stage_order_runs_build_mutation_assets_then_environments_in_promotion_order(
    pipeline: dict[str, Any], config: DeliveryConfig
) -> None:
    names = [stage["Name"] for stage in pipeline["Stages"]]
    # A gated environment's approval has the stage just before its own (approval_stage_name).
    environments = [
        name
        for env in config.environments
        for name in ([approval_stage_name(env.name)] if env.approval_required else []) + [env.name]
    ]
    assert names == ["Source", "Build", "UpdatePipeline", "Assets", *environments]


def test_first_environment_deploys_without_approval(
    pipeline: dict[str, Any], config: DeliveryConfig
) -> None:
    first = _stage(pipeline, config.environments[0].name)
    assert _actions(first, "Approval") == []
    assert _actions(first, "Deploy")


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_approval_precedes_every_deploy_action_of_gated_environments(
    pipeline: dict[str, Any], environment: str
) -> None:
    names = [stage["Name"] for stage in pipeline["Stages"]]
    gate = _stage(pipeline, approval_stage_name(environment))
    (approval,) = _actions(gate, "Approval")
    assert approval["ActionTypeId"]["Provider"] == "Manual"
    assert environment in approval["Configuration"]["CustomData"]
    # Alone in the stage just before the environment's: nothing deploys until it is clicked,
    # and the environment's entry conditions are judged after it.
    assert _actions(gate, "Deploy") == []
    assert names.index(gate["Name"]) + 1 == names.index(environment)
    stage = _stage(pipeline, environment)
    assert _actions(stage, "Approval") == []
    assert _actions(stage, "Deploy")


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_deploy_actions_target_the_environment_account_and_its_stacks(
    pipeline: dict[str, Any], config: DeliveryConfig, environment: str
) -> None:
    env = config.environment(environment)
    deploys = _actions(_stage(pipeline, environment), "Deploy")
    for action in deploys:
        stack_name = action["Configuration"]["StackName"]
        assert stack_name.startswith(f"{config.project.name}-{environment}-")
        # The CloudFront web ACL's stack is the one stack that lives in us-east-1.
        region = "us-east-1" if stack_name.endswith("-edge") else env.region
        suffix = f"{env.account}:role/cdk-hnb659fds-deploy-role-{env.account}-{region}"
        assert json.dumps(action["RoleArn"]).endswith(f':iam::{suffix}"]]}}')
        assert action.get("Region", config.pipeline.region) == region
    change_sets = [a for a in deploys if a["Configuration"]["ActionMode"] == "CHANGE_SET_REPLACE"]
    assert change_sets, "every stack is deployed through a reviewed change set"
    for action in change_sets:
        execution_role = json.dumps(action["Configuration"]["RoleArn"])
        assert f":iam::{env.account}:role/cdk-hnb659fds-cfn-exec-role-" in execution_role


def test_source_is_the_configured_github_branch_through_codeconnections(
    pipeline: dict[str, Any], config: DeliveryConfig
) -> None:
    (action,) = _stage(pipeline, "Source")["Actions"]
    assert action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert action["Configuration"] == {
        "ConnectionArn": config.pipeline.source.connection_arn,
        "FullRepositoryId": config.pipeline.source.repository,
        "BranchName": config.pipeline.source.branch,
        "DetectChanges": True,
    }


def test_build_action_runs_the_commands_of_buildspecs_synth(
    assembly: Assembly, pipeline: dict[str, Any]
) -> None:
    project = _project_of(assembly, _stage(pipeline, "Build"), "Synth")
    spec = json.loads(project["Source"]["BuildSpec"])
    expected = Buildspec.load("synth")
    assert spec["phases"]["install"]["commands"] == expected.install_commands
    assert spec["phases"]["build"]["commands"] == expected.commands
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.11", "nodejs": "24"}
    assert spec["artifacts"]["base-directory"] == "cdk.out"


def test_self_mutation_installs_the_cli_version_pinned_in_package_json(
    assembly: Assembly, pipeline: dict[str, Any]
) -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    (action,) = _stage(pipeline, "UpdatePipeline")["Actions"]
    spec = json.loads(_build_project(assembly, action)["Source"]["BuildSpec"])
    assert spec["phases"]["install"]["commands"] == [f"npm install -g aws-cdk@{pinned}"]


def test_assets_are_published_serially_by_one_action_per_asset_type(
    pipeline: dict[str, Any],
) -> None:
    actions = _stage(pipeline, "Assets")["Actions"]
    assert [a["Name"] for a in actions] == ["FileAssets"]


def test_every_build_project_uses_the_pinned_image_a_timeout_and_encrypted_retained_logs(
    assembly: Assembly,
) -> None:
    template = assembly.pipeline_template
    projects = properties(template, "AWS::CodeBuild::Project")
    # synth, self-mutation, file assets, images, and per environment its verification, plus
    # a change report where an approval gates the deploy
    assert len(projects) == 4 + 3 + 2
    for project in projects:
        assert project["Environment"]["Image"] == "aws/codebuild/standard:8.0"
        assert 0 < project["TimeoutInMinutes"] <= 60
        log_group = ref_target(template, project["LogsConfig"]["CloudWatchLogs"]["GroupName"])
        assert log_group["Properties"]["RetentionInDays"] == 365
        assert "KmsKeyId" in log_group["Properties"]


def _artifact_bucket(template: dict[str, Any]) -> dict[str, Any]:
    (pipeline,) = properties(template, "AWS::CodePipeline::Pipeline")
    # With stacks in a second region (us-east-1) there is one store per region; the
    # pipeline's own bucket is the one in this stack.
    stores = [s["ArtifactStore"] for s in pipeline.get("ArtifactStores", [])] or [
        pipeline["ArtifactStore"]
    ]
    (store,) = [s for s in stores if isinstance(s["Location"], dict)]
    return dict(ref_target(template, store["Location"])["Properties"])


def test_cross_account_artifacts_are_encrypted_with_a_rotating_customer_key(
    assembly: Assembly,
) -> None:
    template = assembly.pipeline_template
    encryption = _artifact_bucket(template)["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ][0]
    key = ref_target(template, encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert key["Properties"]["EnableKeyRotation"] is True


def test_shared_account_layout_creates_no_artifact_key(shared_account_assembly: Assembly) -> None:
    template = shared_account_assembly.pipeline_template
    encryption = _artifact_bucket(template)["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ][0]
    # SSE-KMS with the AWS managed key: no KMSMasterKeyID, so no customer key to pay for.
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms"}
    aliases = [a["AliasName"] for a in properties(template, "AWS::KMS::Alias")]
    assert not [alias for alias in aliases if "codepipeline" in alias]
    # Only the keys of the pipeline's own data remain; nothing for cross-account artifacts.
    descriptions = sorted(k["Description"] for k in properties(template, "AWS::KMS::Key"))
    assert descriptions == [
        "Encrypts the CodeBuild logs of the delivery pipeline",
        "Encrypts the delivery pipeline's notifications",
        "Encrypts the delivery-metrics function's settings and its DLQ",
    ]


def test_artifact_bucket_is_versioned_private_and_logged(assembly: Assembly) -> None:
    bucket = _artifact_bucket(assembly.pipeline_template)
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    target = ref_target(
        assembly.pipeline_template, bucket["LoggingConfiguration"]["DestinationBucketName"]
    )
    assert target["Type"] == "AWS::S3::Bucket"


def _project_of(assembly: Assembly, stage: dict[str, Any], name: str) -> dict[str, Any]:
    (action,) = [a for a in stage["Actions"] if a["Name"] == name]
    return _build_project(assembly, action)


def _action(stage: dict[str, Any], name: str) -> dict[str, Any]:
    (action,) = [a for a in stage["Actions"] if a["Name"] == name]
    return dict(action)


def _env_vars(project: dict[str, Any]) -> dict[str, Any]:
    return {v["Name"]: v["Value"] for v in project["Environment"].get("EnvironmentVariables", [])}


def test_images_are_built_and_scanned_beside_synth_before_every_environment(
    assembly: Assembly, pipeline: dict[str, Any], config: DeliveryConfig
) -> None:
    names = [stage["Name"] for stage in pipeline["Stages"]]
    build = _stage(pipeline, "Build")
    images, synth = _action(build, "Images"), _action(build, "Synth")
    # One stage: a failed scan gate fails the Build stage, so no environment stage starts.
    assert all(names.index("Build") < names.index(env.name) for env in config.environments)
    assert images["RunOrder"] == synth["RunOrder"], "side by side, not after Synth"
    (source,) = _stage(pipeline, "Source")["Actions"]
    assert images["InputArtifacts"] == source["OutputArtifacts"] == synth["InputArtifacts"]
    project = _project_of(assembly, build, "Images")
    assert project["Environment"]["PrivilegedMode"] is True
    spec = json.loads(project["Source"]["BuildSpec"])
    # Build and push, then the scan gate (Makefile: publish-images), in one action.
    assert spec["phases"]["build"]["commands"] == ["make publish-images"]
    assert spec["phases"]["install"]["runtime-versions"] == {"python": "3.11", "nodejs": "24"}
    assert _env_vars(project)["SCAN_THRESHOLD"] == config.pipeline.image_scan_fail_on
    # The repositories it may build into are in the pipeline's definition: a new one updates
    # the pipeline, which restarts the execution after the self-mutation creates it.
    (repositories,) = [
        v
        for v in json.loads(images["Configuration"]["EnvironmentVariables"])
        if v["name"] == "IMAGE_REPOSITORIES"
    ]
    expected = {
        r["RepositoryName"] for r in properties(assembly.pipeline_template, "AWS::ECR::Repository")
    }
    assert set(repositories["value"].split()) == expected


def test_the_images_project_writes_the_pipeline_build_logs_with_the_artifact_key(
    assembly: Assembly, pipeline: dict[str, Any]
) -> None:
    template = assembly.pipeline_template
    project = _project_of(assembly, _stage(pipeline, "Build"), "Images")
    synth = _project_of(assembly, _stage(pipeline, "Build"), "Synth")
    assert project["LogsConfig"] == synth["LogsConfig"]
    assert project["EncryptionKey"] == synth["EncryptionKey"]
    assert project["TimeoutInMinutes"] == 60  # the builds, then the wait for the scans
    role = ref_target(template, {"Ref": project["ServiceRole"]["Fn::GetAtt"][0]})
    assert role["Type"] == "AWS::IAM::Role"


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_change_report_comes_first_and_the_approval_links_to_it_and_notifies(
    assembly: Assembly, pipeline: dict[str, Any], config: DeliveryConfig, environment: str
) -> None:
    names = [stage["Name"] for stage in pipeline["Stages"]]
    gate = _stage(pipeline, approval_stage_name(environment))
    previous = _stage(pipeline, names[names.index(gate["Name"]) - 1])
    # The report runs in the previous environment's stage, beside its verification; the
    # approval is alone in the next stage, so it follows the report (the stage boundary).
    report = _action(previous, f"ChangeReport-{environment}")
    verification = _action(previous, f"Verify-{previous['Name']}")
    assert report["RunOrder"] == verification["RunOrder"]
    approval = _action(gate, f"Approve-{environment}")
    assert [a["Name"] for a in gate["Actions"]] == [approval["Name"]]
    link = json.dumps(approval["Configuration"]["ExternalEntityLink"])
    assert f"change-reports/#{{codepipeline.PipelineExecutionId}}/{environment}.md" in link
    topic = ref_target(assembly.pipeline_template, approval["Configuration"]["NotificationArn"])
    assert topic["Type"] == "AWS::SNS::Topic"
    variables = _env_vars(_project_of(assembly, previous, f"ChangeReport-{environment}"))
    env = config.environment(environment)
    assert variables["ENV"] == environment
    assert variables["LOOKUP_ROLE_ARN"] == (
        f"arn:aws:iam::{env.account}:role/cdk-hnb659fds-lookup-role-{env.account}-{env.region}"
    )
    assert variables["CHANGE_REPORT_FLAGS"] == (
        "--fail-on-wildcard" if env.permissions_check else ""
    )


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_one_verify_action_follows_every_deploy(
    assembly: Assembly, pipeline: dict[str, Any], config: DeliveryConfig, environment: str
) -> None:
    stage = _stage(pipeline, environment)
    env = config.environment(environment)
    last_deploy = max(a["RunOrder"] for a in _actions(stage, "Deploy"))
    verification = _action(stage, f"Verify-{environment}")
    assert last_deploy < verification["RunOrder"]
    assert sorted(a["Name"] for a in _actions(stage, "Build")) == sorted(
        [
            f"Verify-{environment}",
            *[f"ChangeReport-{n.name}" for n in config.environments if _follows(config, n, env)],
        ]
    )
    project = _project_of(assembly, stage, f"Verify-{environment}")
    spec = json.loads(project["Source"]["BuildSpec"])
    assert spec["phases"]["build"]["commands"] == ["make verify"]
    variables = _env_vars(project)
    assert variables["ENV"] == environment
    assert variables["CHECK_MARKERS"] == " or ".join(env.checks)
    assert variables["BAKE_MINUTES"] == str(env.bake_minutes)
    assert variables["BAKE_ROLE_ARN"].endswith(f"-lookup-role-{env.account}-{env.region}")
    # The timeout covers the bake plus the checks, the record and the install phase.
    assert project["TimeoutInMinutes"] == env.bake_minutes + 30
    # SITE_URL is the stateless stack's output, read from its deploy action at run time.
    (site_url,) = [
        v
        for v in json.loads(verification["Configuration"]["EnvironmentVariables"])
        if v["name"] == "SITE_URL"
    ]
    assert site_url["value"].startswith("#{") and site_url["value"].endswith(".SiteUrl}")


def _follows(config: DeliveryConfig, later: Any, earlier: Any) -> bool:
    """``later`` is gated and comes right after ``earlier`` (its report runs in that stage)."""
    names = [env.name for env in config.environments]
    index = names.index(earlier.name)
    return later.approval_required and names[index + 1 : index + 2] == [later.name]


def test_bake_defaults_follow_the_issue(config: DeliveryConfig) -> None:
    assert [env.bake_minutes for env in config.environments] == [0, 10, 30]


def test_pushes_that_only_touch_docs_do_not_start_the_pipeline(
    pipeline: dict[str, Any], config: DeliveryConfig
) -> None:
    (trigger,) = pipeline["Triggers"]
    (push,) = trigger["GitConfiguration"]["Push"]
    assert push["Branches"] == {"Includes": [config.pipeline.source.branch]}
    assert push["FilePaths"] == {"Excludes": ["docs/**", "**/*.md"]}


def test_failures_approvals_and_releases_are_notified(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    (rule,) = properties(assembly.pipeline_template, "AWS::CodeStarNotifications::NotificationRule")
    assert set(rule["EventTypeIds"]) == {
        "codepipeline-pipeline-pipeline-execution-failed",
        "codepipeline-pipeline-manual-approval-needed",
        "codepipeline-pipeline-pipeline-execution-succeeded",
    }
    subscriptions = properties(assembly.pipeline_template, "AWS::SNS::Subscription")
    assert sorted(s["Endpoint"] for s in subscriptions) == sorted(
        config.pipeline.notification_emails
    )
    (topic,) = properties(assembly.pipeline_template, "AWS::SNS::Topic")
    assert "KmsMasterKeyId" in topic


def test_image_repositories_are_immutable_scanned_and_pullable_by_environment_accounts_only(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    repositories = {
        r["RepositoryName"]: r
        for r in properties(assembly.pipeline_template, "AWS::ECR::Repository")
    }
    services = [
        name for name in config.services if (ROOT / "services" / name / "Dockerfile").exists()
    ]
    assert "api" in services
    assert set(repositories) == {f"{config.project.name}/{name}" for name in services}
    accounts = {env.account for env in config.environments} - {config.pipeline.account}
    for repository in repositories.values():
        assert repository["ImageTagMutability"] == "IMMUTABLE"
        assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert repository["EncryptionConfiguration"] == {"EncryptionType": "KMS"}
        (statement,) = repository["RepositoryPolicyText"]["Statement"]
        principals = json.dumps(statement["Principal"])
        assert all(f":iam::{account}:root" in principals for account in accounts)
        assert config.pipeline.account not in principals
        assert set(statement["Action"]) == {
            "ecr:BatchGetImage",
            "ecr:BatchCheckLayerAvailability",
            "ecr:GetDownloadUrlForLayer",
        }
