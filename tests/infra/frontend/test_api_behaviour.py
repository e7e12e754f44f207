"""The distribution's API behaviour in every environment, how its VPC origin is replaced
rather than updated, and the distribution with a custom certificate (a test stack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2

from config.model import DeliveryConfig, EnvironmentConfig
from infra.frontend.site import API_PATH_PATTERN, StaticSite
from tests.support.assembly import Assembly, properties

# AWS managed policies: CachingDisabled and AllViewerExceptHostHeader.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def distribution(
    assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig
) -> dict[str, Any]:
    template = assembly.template(f"{config.project.name}-{env.name}-stateless")
    (props,) = properties(template, "AWS::CloudFront::Distribution")
    return dict(props["DistributionConfig"])


def test_api_paths_go_uncached_to_the_load_balancer_with_viewer_headers(
    distribution: dict[str, Any],
) -> None:
    (api,) = distribution["CacheBehaviors"]
    assert api["PathPattern"] == API_PATH_PATTERN
    assert api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert set(api["AllowedMethods"]) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "PUT",
        "PATCH",
        "POST",
        "DELETE",
    }
    # API errors reach the client as they are: no SPA rewrite, no custom error pages.
    assert "FunctionAssociations" not in api
    assert "CustomErrorResponses" not in distribution
    assert (
        api["ResponseHeadersPolicyId"]
        == distribution["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
    )


def test_custom_certificate_enforces_tls_1_2_2021(edge_shapes: dict[str, Any]) -> None:
    (props,) = properties(edge_shapes, "AWS::CloudFront::Distribution")
    distribution = props["DistributionConfig"]
    certificate = distribution["ViewerCertificate"]
    assert certificate["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert certificate["SslSupportMethod"] == "sni-only"
    assert certificate["AcmCertificateArn"].startswith("arn:aws:acm:us-east-1:")
    assert distribution["Aliases"] == ["app.example.com"]


def _vpc_origin_logical_id(
    web_dist: Path, *, alb_id: str = "Alb", internet_facing: bool = False, port: int = 80
) -> str:
    """The logical id the API's VPC origin gets in a services/frontend pair of stacks."""
    app = App()
    services = Stack(app, "Services")
    vpc = ec2.Vpc(services, "Vpc", max_azs=2)
    alb = elbv2.ApplicationLoadBalancer(services, alb_id, vpc=vpc, internet_facing=internet_facing)
    site = StaticSite(
        Stack(app, "Frontend"),
        "Site",
        web_dist=web_dist,
        price_class="PriceClass_100",
        log_retention_days=30,
        removal_policy=RemovalPolicy.DESTROY,
        api_load_balancer=alb,
        api_listener_port=port,
    )
    assert site.api_vpc_origin is not None
    resource = site.api_vpc_origin.node.default_child
    assert isinstance(resource, CfnResource)
    return str(Stack.of(resource).resolve(resource.logical_id))


def test_the_vpc_origin_is_a_new_resource_whenever_the_alb_or_its_settings_change(
    tmp_path: Path,
) -> None:
    # CloudFront refuses to update a VPC origin in use (409): a change must replace it, and
    # an unchanged one must keep its logical id (or every deploy would churn the origin).
    (tmp_path / "index.html").write_text("<!doctype html>\n", encoding="utf-8")
    baseline = _vpc_origin_logical_id(tmp_path)
    assert _vpc_origin_logical_id(tmp_path) == baseline
    changed = {
        "the ALB replaced by a scheme change": _vpc_origin_logical_id(
            tmp_path, internet_facing=True
        ),
        "the ALB replaced by a new logical id": _vpc_origin_logical_id(tmp_path, alb_id="Lb"),
        "another listener port": _vpc_origin_logical_id(tmp_path, port=8080),
    }
    assert all(logical_id != baseline for logical_id in changed.values()), changed
    assert len(set(changed.values())) == len(changed), changed
