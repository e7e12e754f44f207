"""What the system exposes, read from every synthesized template (pipeline and environments).

The API is reached only through CloudFront's VPC origin: no load balancer faces the internet,
no security group admits the whole internet, and no shared origin secret exists to leak.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config.model import DeliveryConfig
from tests.support.assembly import COMPONENTS, ENVIRONMENTS, Assembly, resources

OPEN_RANGES = {"0.0.0.0/0", "::/0"}
# Built here so that this file does not itself carry the retired header's name.
RETIRED_ORIGIN_HEADER = "-".join(["x", "origin", "verify"])


def _templates(assembly: Assembly) -> dict[Path, dict[str, Any]]:
    templates = {
        path: json.loads(path.read_text(encoding="utf-8")) for path in assembly.template_files()
    }
    # Every environment's stacks and the pipeline's: a selection that found nothing proves nothing.
    expected = len(COMPONENTS) * len(ENVIRONMENTS)
    assert len(templates) > expected, sorted(str(path) for path in templates)
    return templates


def _ingress_rules(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every inbound rule: inline on a security group, or a separate ingress resource."""
    rules = []
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            rules += [(logical_id, rule) for rule in properties.get("SecurityGroupIngress", [])]
        elif resource["Type"] == "AWS::EC2::SecurityGroupIngress":
            rules.append((logical_id, properties))
    return rules


def test_no_security_group_in_any_template_admits_the_whole_internet(
    assembly: Assembly,
) -> None:
    open_rules = [
        (path.name, logical_id, rule)
        for path, template in _templates(assembly).items()
        for logical_id, rule in _ingress_rules(template)
        if rule.get("CidrIp") in OPEN_RANGES or rule.get("CidrIpv6") in OPEN_RANGES
    ]
    assert open_rules == []


def test_no_load_balancer_in_any_template_faces_the_internet(assembly: Assembly) -> None:
    schemes = [
        (path.name, resource.get("Properties", {}).get("Scheme", "internet-facing"))
        for path, template in _templates(assembly).items()
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"
    ]
    # One ALB per environment, each internal (CloudFormation's default scheme is public).
    assert [scheme for _, scheme in schemes] == ["internal"] * len(ENVIRONMENTS), schemes


def test_no_template_names_the_retired_origin_verify_header(assembly: Assembly) -> None:
    for path, template in _templates(assembly).items():
        assert RETIRED_ORIGIN_HEADER not in json.dumps(template).lower(), path.name


@pytest.mark.parametrize("stack", ["stateless"])
def test_no_origin_secret_is_generated_for_the_api(
    assembly: Assembly, config: DeliveryConfig, stack: str
) -> None:
    for env in ENVIRONMENTS:
        template = assembly.template(f"{config.project.name}-{env}-{stack}")
        assert resources(template, "AWS::SecretsManager::Secret") == {}, env
