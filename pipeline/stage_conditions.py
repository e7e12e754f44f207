"""Each environment stage rolls back on failure and is entered only while the one before is healthy.

CodePipeline V2 stage conditions, written into the generated pipeline (CDK Pipelines has no
option for them):
- ``OnFailure: ROLLBACK``: a failed stage (a deploy, the Verify action's checks or its bake)
  runs again with the artifacts of its last successful execution, that is the previous
  release. CodePipeline rolls back only to an execution of the current pipeline structure, so a
  change to the pipeline resets that history (the template diff says so).
  https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback-auto.html
- ``BeforeEntry``: a CloudWatchAlarm rule on the previous environment's composite health
  alarm (config.names.health_alarm_name), read in that environment's account through its CDK
  lookup role (read-only; CodePipeline assumes a rule's role through the pipeline's role), so a
  release whose predecessor turned unhealthy after its bake is not promoted; and, where the
  environment sets one, a DeploymentWindow rule. A rule that fails fails the stage's entry.
  https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html
  https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam

from config.model import DeliveryConfig, EnvironmentConfig
from config.names import health_alarm_name, lookup_role_arn
from infra.escape_hatch import cfn_resource

# Minutes the entry condition waits for an unhealthy predecessor to recover before it fails.
HEALTH_WAIT_MINUTES = 5


def _rule(name: str, provider: str, configuration: dict[str, str], **extra: str) -> dict[str, Any]:
    return {
        "Name": name,
        "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": provider, "Version": "1"},
        "Configuration": configuration,
        **extra,
    }


def healthy_rule(project: str, previous: EnvironmentConfig) -> dict[str, Any]:
    """Fails while the previous environment's health alarm is in ALARM."""
    return _rule(
        f"{previous.name}-healthy",
        "CloudWatchAlarm",
        {
            "AlarmName": health_alarm_name(project, previous.name),
            "AlarmStates": "ALARM",
            "WaitTime": str(HEALTH_WAIT_MINUTES),
        },
        Region=previous.region,
        RoleArn=lookup_role_arn(previous.account, previous.region),
    )


def entry_rules(config: DeliveryConfig, index: int) -> list[dict[str, Any]]:
    """The rules the environment at ``index`` (promotion order) must pass to be entered."""
    environments = list(config.environments)
    environment = environments[index]
    rules = []
    if index > 0:
        rules.append(healthy_rule(config.project.name, environments[index - 1]))
    if environment.deployment_window is not None:
        window = environment.deployment_window
        rules.append(
            _rule(
                "deployment-window",
                "DeploymentWindow",
                {"Cron": window.cron, "TimeZone": window.timezone},
            )
        )
    return rules


def roll_back_and_gate_stages(pipeline: codepipeline.Pipeline, *, config: DeliveryConfig) -> None:
    """Write every environment stage's conditions into ``pipeline`` (built, V2)."""
    cfn = cfn_resource(pipeline, codepipeline.CfnPipeline)
    positions = {stage.stage_name: index for index, stage in enumerate(pipeline.stages)}
    roles: set[str] = set()
    for index, environment in enumerate(config.environments):
        position = positions[environment.name]
        cfn.add_property_override(f"Stages.{position}.OnFailure", {"Result": "ROLLBACK"})
        rules = entry_rules(config, index)
        if rules:
            cfn.add_property_override(
                f"Stages.{position}.BeforeEntry",
                {"Conditions": [{"Result": "FAIL", "Rules": rules}]},
            )
        roles.update(rule["RoleArn"] for rule in rules if "RoleArn" in rule)
    if roles:
        pipeline.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=sorted(roles))
        )
