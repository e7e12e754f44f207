"""Every environment stage rolls back on failure and is entered only while its predecessor is
healthy (and, where configured, inside its deployment window); a change to a service alone
leaves the pipeline's structure, and so its rollback history, as it was."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from config.model import ConfigError, DeliveryConfig, load_config
from config.names import health_alarm_name, health_alarm_prefix, lookup_role_arn, stack_name
from config.paths import ROOT
from tests.support.assembly import Assembly, resources

PIPELINE_TYPE = "AWS::CodePipeline::Pipeline"


def _pipeline(template: dict[str, Any]) -> dict[str, Any]:
    ((_, pipeline),) = resources(template, PIPELINE_TYPE).items()
    return dict(pipeline)


def _stages(assembly: Assembly) -> dict[str, dict[str, Any]]:
    stages = _pipeline(assembly.pipeline_template)["Properties"]["Stages"]
    return {stage["Name"]: stage for stage in stages}


def test_every_environment_stage_rolls_back_on_failure(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    stages = _stages(assembly)
    for environment in config.environments:
        assert stages[environment.name]["OnFailure"] == {"Result": "ROLLBACK"}, environment.name
    # Not the source stage (CodePipeline cannot roll it back) nor the build.
    assert "OnFailure" not in stages["Source"]


def _composite_members(template: dict[str, Any], name: str) -> set[str]:
    """The alarm names the composite alarm ``name`` is made of (its rule names alarm ARNs)."""
    (composite,) = [
        alarm
        for alarm in resources(template, "AWS::CloudWatch::CompositeAlarm").values()
        if alarm["Properties"]["AlarmName"] == name
    ]
    rule = json.dumps(composite["Properties"]["AlarmRule"])
    members = set(re.findall(r'"Fn::GetAtt": \["(\w+)", "Arn"\]', rule))
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    return {alarms[logical_id]["Properties"]["AlarmName"] for logical_id in members}


def test_a_stage_is_entered_only_while_the_previous_environment_is_healthy(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    stages = _stages(assembly)
    environments = list(config.environments)
    assert "BeforeEntry" not in stages[environments[0].name]
    for previous, environment in itertools.pairwise(environments):
        (condition,) = stages[environment.name]["BeforeEntry"]["Conditions"]
        assert condition["Result"] == "FAIL"
        (healthy,) = [
            r for r in condition["Rules"] if r["RuleTypeId"]["Provider"] == "CloudWatchAlarm"
        ]
        name = health_alarm_name(config.project.name, previous.name)
        assert healthy["Configuration"]["AlarmName"] == name
        assert healthy["Configuration"]["AlarmStates"] == "ALARM"
        assert healthy["Region"] == previous.region
        assert healthy["RoleArn"] == lookup_role_arn(previous.account, previous.region)

        # The alarm exists where the rule looks, and is made of exactly the health alarms.
        stateless = assembly.template(stack_name(config.project.name, previous.name, "stateless"))
        prefix = health_alarm_prefix(config.project.name, previous.name)
        health = {
            alarm["Properties"]["AlarmName"]
            for alarm in resources(stateless, "AWS::CloudWatch::Alarm").values()
            if str(alarm["Properties"].get("AlarmName", "")).startswith(prefix)
        }
        assert health, f"{previous.name} has no health alarm"
        assert _composite_members(stateless, name) == health


def test_the_pipeline_role_may_assume_exactly_the_rules_roles(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    template = assembly.pipeline_template
    pipeline = _pipeline(template)
    role_id = pipeline["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    rule_roles = {
        rule["RoleArn"]
        for stage in pipeline["Properties"]["Stages"]
        for condition in stage.get("BeforeEntry", {}).get("Conditions", [])
        for rule in condition["Rules"]
        if "RoleArn" in rule
    }
    assumable = {
        resource
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "sts:AssumeRole"
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if isinstance(resource, str)  # the CDK deploy roles are Fn::Join-ed with the partition
    }
    assert rule_roles == {
        lookup_role_arn(e.account, e.region) for e in list(config.environments)[:-1]
    }
    assert rule_roles <= assumable


def test_the_deployment_window_of_the_config_gates_its_stage(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    stages = _stages(assembly)
    windowed = [e for e in config.environments if e.deployment_window is not None]
    assert windowed, "the shipped config gives prod a deployment window"
    for environment in config.environments:
        conditions = stages[environment.name].get("BeforeEntry", {}).get("Conditions", [])
        windows = [
            rule["Configuration"]
            for condition in conditions
            for rule in condition["Rules"]
            if rule["RuleTypeId"]["Provider"] == "DeploymentWindow"
        ]
        window = environment.deployment_window
        expected = [] if window is None else [{"Cron": window.cron, "TimeZone": window.timezone}]
        assert windows == expected, environment.name


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ('{ cron = "0 8-16 ? * MON-THU" }', "cron must have 6 or 7 space-separated fields"),
        ('{ cron = "0 * 8-16 ? * MON-THU" }', "the first (seconds) '*'"),
        ('{ cron = "* * 8-16 ? * MON-THU", timezone = "Mars/Olympus" }', "IANA time zone"),
    ],
)
def test_a_bad_deployment_window_is_one_clear_error(
    tmp_path: Path, window: str, message: str
) -> None:
    text = (ROOT / "config/environments.toml").read_text(encoding="utf-8")
    text = re.sub(r"^deployment_window = .*$", f"deployment_window = {window}", text, flags=re.M)
    config_file = tmp_path / "environments.toml"
    config_file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config_file)
    assert message in str(raised.value)
    assert "prod" in str(raised.value) and "deployment_window" in str(raised.value)


@pytest.mark.checkout  # it builds a copy of the checkout's files
def test_a_service_change_leaves_the_pipeline_structure_byte_identical(
    assembly: Assembly, api_change_assembly: Assembly
) -> None:
    """Rollback targets survive only within one pipeline structure: application code must not
    change the pipeline resource (its image tags live in the environments' templates)."""
    changed = api_change_assembly

    before, after = _pipeline(assembly.pipeline_template), _pipeline(changed.pipeline_template)
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)
    # The change did reach the environments: it is a new release, not a no-op.
    name = stack_name("todo", "dev", "stateless")
    assert changed.template(name) != assembly.template(name)
