"""The derived names are the names the synthesized templates really use.

The commands `make` runs find resources by these names (the bake its alarms, release-change the
pipeline, deploy-pipeline the stack), so a name the CDK code spelled differently would leave a
command looking for something that does not exist.
"""

from __future__ import annotations

from config.model import DeliveryConfig
from config.names import (
    alarm_topic_name,
    health_alarm_prefix,
    pipeline_name,
    pipeline_stack_name,
    stack_name,
)
from tests.support.assembly import COMPONENTS, Assembly, part, properties


def test_every_environment_stack_is_named_by_stack_name(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    for environment in config.environments:
        names = {stack.name for stack in assembly.cloud.environment_stacks(environment.name)}
        expected = {stack_name(config.project.name, environment.name, c) for c in COMPONENTS}
        if environment.waf.enabled:
            expected.add(stack_name(config.project.name, environment.name, "edge"))
        assert names == expected


def test_the_pipeline_and_its_stack_carry_the_derived_names(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    stack = assembly.cloud.stack(pipeline_stack_name(config.project.name))
    (pipeline,) = properties(assembly.template(stack.name), "AWS::CodePipeline::Pipeline")
    assert pipeline["Name"] == pipeline_name(config.project.name)


def test_alarms_publish_to_the_topic_the_stateless_stack_creates(
    assembly: Assembly, config: DeliveryConfig
) -> None:
    for environment in config.environments:
        topic = alarm_topic_name(config.project.name, environment.name)
        stateless = assembly.template(
            stack_name(config.project.name, environment.name, "stateless")
        )
        topics = properties(stateless, "AWS::SNS::Topic")
        assert [t["TopicName"] for t in topics] == [topic]

        # The services name the topic by its ARN; the monitoring alarms beside it Ref it.
        services = part(stateless, "Services")
        prefix = health_alarm_prefix(config.project.name, environment.name)
        health = [
            alarm
            for alarm in properties(services, "AWS::CloudWatch::Alarm")
            if str(alarm.get("AlarmName", "")).startswith(prefix)
        ]
        assert health, f"{environment.name}: no health alarm in the stateless stack"
        for alarm in health:
            (action,) = {str(a) for a in alarm["AlarmActions"]}
            assert action.endswith(f":{topic}"), (alarm["AlarmName"], action)
