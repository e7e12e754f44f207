"""Resources that must be replaced with the load balancer follow its identity."""

from __future__ import annotations

from aws_cdk import App, CfnResource, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2

from config.model import load_config
from config.paths import ROOT
from infra.services.services import http_target_group


def _target_group_logical_id(
    *,
    alb_id: str = "Alb",
    internet_facing: bool = False,
    name: str | None = None,
    idle_seconds: int = 60,
) -> str:
    stack = Stack(App(), "Services")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    alb = elbv2.ApplicationLoadBalancer(
        stack,
        alb_id,
        vpc=vpc,
        internet_facing=internet_facing,
        load_balancer_name=name,
        idle_timeout=Duration.seconds(idle_seconds),
    )
    _, spec = load_config(ROOT / "config" / "environments.toml").http_service
    resource = http_target_group(stack, vpc=vpc, load_balancer=alb, spec=spec).node.default_child
    assert isinstance(resource, CfnResource)
    return str(stack.resolve(resource.logical_id))


def test_the_http_target_group_is_replaced_exactly_when_its_load_balancer_is() -> None:
    # ELB lets a target group serve one load balancer: a replaced ALB's new listener cannot
    # take over the old group (TargetGroupAssociationLimit), so the group must be new too.
    baseline = _target_group_logical_id()
    assert _target_group_logical_id() == baseline
    # Not create-only: the ALB is updated in place and the group must stay.
    assert _target_group_logical_id(idle_seconds=120) == baseline
    replaced = {
        "a scheme change": _target_group_logical_id(internet_facing=True),
        "a new logical id": _target_group_logical_id(alb_id="Lb"),
        "a new name": _target_group_logical_id(name="todo-api"),
    }
    assert all(logical_id != baseline for logical_id in replaced.values()), replaced
    assert len(set(replaced.values())) == len(replaced), replaced
