"""The distribution once the services stack provides the API origin (a test stack: the
shipped stage has no load balancer yet), and with a custom certificate."""

from __future__ import annotations

from typing import Any

import pytest

from infra.frontend.site import API_PATH_PATTERN, ORIGIN_VERIFY_HEADER, StaticSite
from tests.support.assembly import properties
from tests.support.edge_app import API_ORIGIN_DOMAIN, ORIGIN_VERIFY_VALUE

# AWS managed policies: CachingDisabled and AllViewerExceptHostHeader.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def distribution(edge_shapes: dict[str, Any]) -> dict[str, Any]:
    (props,) = properties(edge_shapes, "AWS::CloudFront::Distribution")
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


def test_api_origin_gets_the_secret_header_over_tls_1_2(distribution: dict[str, Any]) -> None:
    (api,) = distribution["CacheBehaviors"]
    (origin,) = [o for o in distribution["Origins"] if o["Id"] == api["TargetOriginId"]]
    assert origin["DomainName"] == API_ORIGIN_DOMAIN
    assert origin["OriginCustomHeaders"] == [
        {"HeaderName": ORIGIN_VERIFY_HEADER, "HeaderValue": ORIGIN_VERIFY_VALUE}
    ]
    custom = origin["CustomOriginConfig"]
    assert custom["OriginProtocolPolicy"] == "https-only"
    assert custom["OriginSSLProtocols"] == ["TLSv1.2"]


def test_custom_certificate_enforces_tls_1_2_2021(distribution: dict[str, Any]) -> None:
    certificate = distribution["ViewerCertificate"]
    assert certificate["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert certificate["SslSupportMethod"] == "sni-only"
    assert certificate["AcmCertificateArn"].startswith("arn:aws:acm:us-east-1:")
    assert distribution["Aliases"] == ["app.example.com"]


def test_origin_and_secret_header_come_together(tmp_path: Any) -> None:
    from aws_cdk import App, RemovalPolicy, Stack  # noqa: PLC0415

    with pytest.raises(ValueError, match="come together"):
        StaticSite(
            Stack(App(), "Lonely"),
            "Site",
            web_dist=tmp_path,
            price_class="PriceClass_100",
            log_retention_days=30,
            removal_policy=RemovalPolicy.RETAIN,
            api_origin_domain=API_ORIGIN_DOMAIN,
        )
