"""Which of the synthesized alarms the bake watches, proven against CloudWatch (moto).

Every alarm an environment will have in AWS is listed from the synthesized templates, named as
AWS will name it: the AlarmName the template sets, or CloudFormation's generated
``<stack name>-<logical id>-<random>`` when it sets none
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html), plus
the two alarms Application Auto Scaling creates for each target-tracking policy, which are not
in any template: ``TargetTracking-<resource id>-AlarmHigh-<uuid>`` and ``...-AlarmLow-<uuid>``
(https://docs.aws.amazon.com/cli/latest/reference/application-autoscaling/put-scaling-policy.html).
Those alarms are put into a local CloudWatch and the real ``python -m ops.release.bake`` runs
against it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from config.cloud_assembly import Template
from config.exit_codes import NO_HEALTH_ALARMS
from config.model import DeliveryConfig
from ops.release import bake
from tests.support.assembly import ENVIRONMENTS, Assembly, ref_target, resources

# The name property CloudFormation reads for a resource's physical name, where it has one.
NAME_PROPERTY = {
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::Service": "ServiceName",
}
TARGET_TRACKING = "target tracking (Application Auto Scaling)"

pytestmark = pytest.mark.usefixtures("aws")


@dataclass(frozen=True)
class DeployedAlarm:
    name: str
    region: str
    origin: str  # the stack that declares it, or TARGET_TRACKING
    scaling: bool  # its action is a scaling policy: ALARM is the autoscaler's input
    signal: tuple[str, str]  # (namespace, metric), ("math", expression) or (TARGET_TRACKING, type)


def _generated_name(stack: str, logical_id: str) -> str:
    suffix = hashlib.sha256(f"{stack}/{logical_id}".encode()).hexdigest()[:12].upper()
    return f"{stack}-{logical_id}-{suffix}"


def _physical_name(template: Template, stack: str, logical_id: str) -> str:
    resource = template["Resources"][logical_id]
    name = resource.get("Properties", {}).get(NAME_PROPERTY.get(resource["Type"], ""))
    if name is None:
        return _generated_name(stack, logical_id)
    return _resolve(template, stack, name)


def _resolve(template: Template, stack: str, value: Any) -> str:
    """A string as CloudFormation resolves it, for the intrinsics alarm names are built of."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return _physical_name(template, stack, value["Ref"])
    if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Name":
        return _physical_name(template, stack, value["Fn::GetAtt"][0])
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_resolve(template, stack, part) for part in parts)
    raise AssertionError(f"{stack}: cannot resolve {value!r} (extend _resolve)")


def _signal(properties: dict[str, Any]) -> tuple[str, str]:
    if "MetricName" in properties:
        return (properties["Namespace"], properties["MetricName"])
    (expression,) = [
        query["Expression"] for query in properties["Metrics"] if "Expression" in query
    ]
    return ("math", expression)


def _template_alarms(template: Template, stack: str, region: str) -> Iterator[DeployedAlarm]:
    policies = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    for logical_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        actions = properties.get("AlarmActions", [])
        yield DeployedAlarm(
            name=_physical_name(template, stack, logical_id),
            region=region,
            origin=stack,
            scaling=any(isinstance(a, dict) and a.get("Ref") in policies for a in actions),
            signal=_signal(properties),
        )


def _target_tracking_alarms(template: Template, stack: str, region: str) -> Iterator[DeployedAlarm]:
    for logical_id, policy in resources(
        template, "AWS::ApplicationAutoScaling::ScalingPolicy"
    ).items():
        properties = policy["Properties"]
        if properties["PolicyType"] != "TargetTrackingScaling":
            continue
        configuration = properties["TargetTrackingScalingPolicyConfiguration"]
        target = ref_target(template, properties["ScalingTargetId"])
        resource_id = _resolve(template, stack, target["Properties"]["ResourceId"])
        kinds = ["AlarmHigh"] + ([] if configuration.get("DisableScaleIn") else ["AlarmLow"])
        for kind in kinds:
            alarm_id = uuid.UUID(hashlib.md5(f"{stack}/{logical_id}/{kind}".encode()).hexdigest())  # noqa: S324 - a stable fake uuid
            yield DeployedAlarm(
                name=f"TargetTracking-{resource_id}-{kind}-{alarm_id}",
                region=region,
                origin=TARGET_TRACKING,
                scaling=True,
                signal=(TARGET_TRACKING, _tracked_metric(configuration)),
            )


def _tracked_metric(configuration: dict[str, Any]) -> str:
    """A predefined metric's type, or the metric names a metric-math specification reads."""
    if "PredefinedMetricSpecification" in configuration:
        return str(configuration["PredefinedMetricSpecification"]["PredefinedMetricType"])
    metrics = configuration["CustomizedMetricSpecification"]["Metrics"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m}
    return "+".join(sorted(names))


def deployed_alarms(assembly: Assembly, environment: str) -> list[DeployedAlarm]:
    alarms: list[DeployedAlarm] = []
    for stack, artifact in sorted(assembly.stack_artifacts(environment).items()):
        template = assembly.template(stack)
        region = artifact["environment"].rsplit("/", 1)[1]
        alarms += _template_alarms(template, stack, region)
        alarms += _target_tracking_alarms(template, stack, region)
    return alarms


def ecs_deployment_alarm_names(assembly: Assembly, environment: str) -> list[str]:
    """The alarms ECS rolls a deployment back on: they must hold the bake too."""
    names = []
    for stack in sorted(assembly.stack_artifacts(environment)):
        template = assembly.template(stack)
        for service in resources(template, "AWS::ECS::Service").values():
            configuration = service["Properties"].get("DeploymentConfiguration", {})
            for name in configuration.get("Alarms", {}).get("AlarmNames", []):
                names.append(_resolve(template, stack, name))
    return names


def _put_alarms(alarms: list[DeployedAlarm], *, firing: set[str]) -> None:
    for alarm in alarms:
        cloudwatch = boto3.client("cloudwatch", region_name=alarm.region)
        cloudwatch.put_metric_alarm(
            AlarmName=alarm.name,
            Namespace="Test",
            MetricName="Value",
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(
            AlarmName=alarm.name,
            StateValue="ALARM" if alarm.name in firing else "OK",
            StateReason="test",
        )


def _run_bake(environment: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = bake.main(["--environment", environment, "--minutes", "0"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _firing(out: str) -> set[str]:
    (line,) = [line for line in out.splitlines() if line.startswith("bake FAILED")]
    return set(line.split(": ", 2)[2].split(", "))


def _table(alarms: list[DeployedAlarm], watched: set[str]) -> str:
    rows = sorted(alarms, key=lambda alarm: (alarm.name not in watched, alarm.scaling, alarm.name))
    return "\n".join(
        f"{'WATCHED' if alarm.name in watched else 'ignored'} "
        f"{'scaling' if alarm.scaling else 'alarm  '} "
        f"{alarm.signal[0] + ':' + alarm.signal[1]:<62} {alarm.name}"
        for alarm in rows
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(variable, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def _expected(config: DeliveryConfig, environment: str) -> tuple[Counter[Any], Counter[Any]]:
    """What the rule in infra/observability/monitoring.py makes of this environment's alarms,
    counted from the registry: one http service, its consumers and its publishers."""
    services, consumers = len(config.services), len(config.consumers)
    publishers = sum(spec.publishes_events for spec in config.services.values())
    health = Counter(
        {
            ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"): 1,
            ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"): 1,
            ("AWS/ApplicationELB", "TargetResponseTime"): 1,
            # The http service's unhealthy targets in whichever group serves (blue/green).
            ("math", "MAX([blue, green])"): 1,
            ("ECS/ContainerInsights", "RunningTaskCount"): services,
            # Per consumer: its deployment alarm and its queue's age.
            ("AWS/SQS", "ApproximateAgeOfOldestMessage"): 2 * consumers,
            (f"{config.project.name}/{environment}", "OutboxOldestPendingAgeSeconds"): publishers,
            # Per consumer: dead letters added since the deploy.
            ("math", "DIFF(visible + inflight)"): consumers,
            ("AWS/SNS", "NumberOfNotificationsFailed"): 1,
        }
    )
    not_health = Counter(
        {
            # Per consumer: the dead letters already there.
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): consumers,
            ("AWS/RDS", "CPUUtilization"): 1,
            ("AWS/RDS", "ACUUtilization"): 1,
            ("AWS/RDS", "ClientConnections"): 1,
            ("AWS/ECS", "CPUUtilization"): services,
            ("AWS/ECS", "MemoryUtilization"): services,
        }
    )
    return health, not_health


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_bake_watches_exactly_the_health_alarms(
    assembly: Assembly,
    config: DeliveryConfig,
    environment: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alarms = deployed_alarms(assembly, environment)
    assert any(a.scaling and a.origin == TARGET_TRACKING for a in alarms)
    assert any(a.scaling and a.origin != TARGET_TRACKING for a in alarms)
    # Everything in ALARM: what the bake reports is exactly what it watches.
    _put_alarms(alarms, firing={alarm.name for alarm in alarms})

    code, out, _ = _run_bake(environment, capsys)
    watched = _firing(out)
    table = _table(alarms, watched)
    print(f"\n{environment}:\n{table}")

    assert code == 1
    assert [a.name for a in alarms if a.scaling and a.name in watched] == [], table
    assert set(ecs_deployment_alarm_names(assembly, environment)) <= watched, table
    health, not_health = _expected(config, environment)
    assert Counter(a.signal for a in alarms if a.name in watched) == health, table
    ignored = [a for a in alarms if a.name not in watched and not a.scaling]
    assert Counter(a.signal for a in ignored) == not_health, table


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_autoscaling_alarms_in_alarm_while_idle_do_not_fail_the_bake(
    assembly: Assembly,
    config: DeliveryConfig,
    environment: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alarms = deployed_alarms(assembly, environment)
    # An idle queue: scale-in alarms (step and target tracking) sit in ALARM, the rest is OK.
    _put_alarms(alarms, firing={alarm.name for alarm in alarms if alarm.scaling})

    code, out, err = _run_bake(environment, capsys)

    assert (code, err) == (0, ""), out
    health, _ = _expected(config, environment)
    expected = f"bake passed: none of {sum(health.values())} health alarms fired"
    assert out.splitlines()[-1].startswith(expected), out


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_health_alarm_in_alarm_fails_the_bake_and_is_named(
    assembly: Assembly, environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms = deployed_alarms(assembly, environment)
    (target_5xx,) = [a for a in alarms if a.signal[1] == "HTTPCode_Target_5XX_Count"]
    _put_alarms(alarms, firing={target_5xx.name} | {a.name for a in alarms if a.scaling})

    code, out, _ = _run_bake(environment, capsys)

    assert code == 1
    assert _firing(out) == {target_5xx.name}


def test_no_alarm_to_watch_fails_loudly_instead_of_passing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Nothing under the health prefix where the bake looks (wrong account or region, or
    # nothing deployed): a bake over zero alarms would pass without having watched anything.
    code, out, err = _run_bake("staging", capsys)

    assert code == NO_HEALTH_ALARMS
    assert len(err.strip().splitlines()) == 1
    assert "no alarm named todo-staging/health/* in eu-west-1" in err
    assert "bake passed" not in out
