"""The frontend of each environment (its stateless stack), read from the synthesized templates."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from config.model import DeliveryConfig, EnvironmentConfig
from config.paths import ROOT
from infra.frontend.site import CONTENT_SECURITY_POLICY, SETTINGS_KEY, SPA_REWRITE
from tests.support.assembly import (
    Assembly,
    properties,
    ref_target,
    resources,
    without,
)

TAGGABLE = [
    "AWS::S3::Bucket",
    "AWS::CloudFront::Distribution",
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
]


@pytest.fixture(scope="module")
def template(assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig) -> dict[str, Any]:
    stateless = assembly.template(f"{config.project.name}-{env.name}-stateless")
    return without(stateless, "Services", "Monitoring", "Budget")


def _distribution(template: dict[str, Any]) -> dict[str, Any]:
    (distribution,) = properties(template, "AWS::CloudFront::Distribution")
    return dict(distribution["DistributionConfig"])


def _site_bucket_id(template: dict[str, Any]) -> str:
    (origin,) = [o for o in _distribution(template)["Origins"] if "S3OriginConfig" in o]
    return str(origin["DomainName"]["Fn::GetAtt"][0])


def _log_bucket_id(template: dict[str, Any]) -> str:
    return str(_distribution(template)["Logging"]["Bucket"]["Fn::GetAtt"][0])


def test_frontend_stack_deploys_in_the_environment_region(
    assembly: Assembly, config: DeliveryConfig, env: EnvironmentConfig
) -> None:
    artifact = assembly.stack_artifacts(env.name)[f"{config.project.name}-{env.name}-stateless"]
    assert artifact["environment"] == f"aws://{env.account}/{env.region}"


def test_buckets_are_private_encrypted_versioned_and_tls_only(template: dict[str, Any]) -> None:
    buckets = resources(template, "AWS::S3::Bucket")
    assert set(buckets) == {_site_bucket_id(template), _log_bucket_id(template)}
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    policies = {
        policy["Bucket"]["Ref"]: policy["PolicyDocument"]["Statement"]
        for policy in properties(template, "AWS::S3::BucketPolicy")
    }
    assert set(policies) == set(buckets)
    for statements in policies.values():
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
        }.items() <= next(s for s in statements if s["Effect"] == "Deny").items()


def test_only_cloudfront_of_this_distribution_reads_the_site_bucket(
    template: dict[str, Any],
) -> None:
    site = _site_bucket_id(template)
    (statements,) = [
        policy["PolicyDocument"]["Statement"]
        for policy in properties(template, "AWS::S3::BucketPolicy")
        if policy["Bucket"]["Ref"] == site
    ]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    (read,) = allows
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert read["Action"] == "s3:GetObject"
    (distribution_id,) = resources(template, "AWS::CloudFront::Distribution")
    assert {"Ref": distribution_id} in read["Condition"]["StringEquals"]["AWS:SourceArn"][
        "Fn::Join"
    ][1]
    (origin,) = [o for o in _distribution(template)["Origins"] if "S3OriginConfig" in o]
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    oac = ref_target(template, origin["OriginAccessControlId"])
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"


def test_buckets_are_retained_only_where_config_protects_data(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    deletion, replace = ("RetainExceptOnCreate", "Retain") if env.protect_data else ("Delete",) * 2
    for bucket in resources(template, "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == deletion
        assert bucket["UpdateReplacePolicy"] == replace
    if env.name in {"staging", "prod"}:
        assert all(
            bucket["DeletionPolicy"] != "Delete"
            for bucket in resources(template, "AWS::S3::Bucket").values()
        )


def test_access_logs_land_in_the_log_bucket_and_expire_as_configured(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    log_bucket = _log_bucket_id(template)
    site = template["Resources"][_site_bucket_id(template)]["Properties"]
    assert site["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket}
    assert _distribution(template)["Logging"]["Prefix"] == "cloudfront/"
    (rule,) = template["Resources"][log_bucket]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == env.frontend.log_retention_days


def test_viewers_get_https_only_and_the_tls_policy_that_is_enforceable(
    template: dict[str, Any], env: EnvironmentConfig
) -> None:
    distribution = _distribution(template)
    behaviours = [distribution["DefaultCacheBehavior"], *distribution.get("CacheBehaviors", [])]
    assert all(b["ViewerProtocolPolicy"] == "https-only" for b in behaviours)
    assert distribution["PriceClass"] == env.frontend.price_class
    if env.frontend.certificate_arn:
        certificate = distribution["ViewerCertificate"]
        assert certificate["AcmCertificateArn"] == env.frontend.certificate_arn
        assert certificate["MinimumProtocolVersion"] == "TLSv1.2_2021"
        assert certificate["SslSupportMethod"] == "sni-only"
    else:
        # CloudFront's default certificate: its TLS policy cannot be chosen, so none is set.
        assert "ViewerCertificate" not in distribution
        assert "Aliases" not in distribution


def test_every_response_carries_the_security_headers(
    template: dict[str, Any], config: DeliveryConfig, env: EnvironmentConfig
) -> None:
    (policy_id,) = resources(template, "AWS::CloudFront::ResponseHeadersPolicy")
    distribution = _distribution(template)
    behaviours = [distribution["DefaultCacheBehavior"], *distribution.get("CacheBehaviors", [])]
    assert all(b["ResponseHeadersPolicyId"] == {"Ref": policy_id} for b in behaviours)
    (policy,) = properties(template, "AWS::CloudFront::ResponseHeadersPolicy")
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 63072000,
        "IncludeSubdomains": True,
        "Preload": True,
        "Override": True,
    }
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert headers["ReferrerPolicy"] == {
        "ReferrerPolicy": "strict-origin-when-cross-origin",
        "Override": True,
    }
    # The one change to the base policy: the web app may fetch the sign-in domain's tokens.
    domain = f"https://{config.auth_domain_prefix(env)}.auth.{env.region}.amazoncognito.com"
    assert headers["ContentSecurityPolicy"]["ContentSecurityPolicy"] == (
        CONTENT_SECURITY_POLICY.replace("connect-src 'self';", f"connect-src 'self' {domain};")
    )
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "*" not in headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]


def test_deep_links_are_rewritten_by_a_function_on_the_s3_behaviour_only(
    template: dict[str, Any],
) -> None:
    distribution = _distribution(template)
    assert "CustomErrorResponses" not in distribution
    (association,) = distribution["DefaultCacheBehavior"]["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function = ref_target(template, association["FunctionARN"])
    assert function["Properties"]["FunctionCode"] == SPA_REWRITE
    assert function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert all("FunctionAssociations" not in b for b in distribution.get("CacheBehaviors", []))


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_spa_rewrite_serves_index_for_routes_and_files_as_themselves() -> None:
    uris = ["/", "/todos", "/todos/42", "/assets/index-abc.js", "/favicon.ico", "/a.b/c"]
    script = (
        f"{SPA_REWRITE}\nconsole.log(JSON.stringify("
        f"{json.dumps(uris)}.map(u => handler({{request: {{uri: u}}}}).uri)))"
    )
    completed = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout) == [
        "/index.html",
        "/index.html",
        "/index.html",
        "/assets/index-abc.js",
        "/favicon.ico",
        "/index.html",
    ]


def _api_origin(template: dict[str, Any]) -> dict[str, Any]:
    distribution = _distribution(template)
    (behaviour,) = distribution["CacheBehaviors"]
    assert behaviour["PathPattern"] == "/api/*"
    (origin,) = [o for o in distribution["Origins"] if o["Id"] == behaviour["TargetOriginId"]]
    return dict(origin)


def test_api_behaviour_reaches_the_internal_alb_through_a_vpc_origin_on_its_listener(
    assembly: Assembly, template: dict[str, Any], config: DeliveryConfig, env: EnvironmentConfig
) -> None:
    origin = _api_origin(template)
    # No public custom origin and no shared secret header: the VPC origin is the only path.
    assert "CustomOriginConfig" not in origin
    assert "OriginCustomHeaders" not in origin
    vpc_origin = ref_target(template, origin["VpcOriginConfig"]["VpcOriginId"])
    assert vpc_origin["Type"] == "AWS::CloudFront::VpcOrigin"
    endpoint = vpc_origin["Properties"]["VpcOriginEndpointConfig"]
    # The ALB is in the same (stateless) stack: plain references, no export to outlive it.
    services = assembly.template(f"{config.project.name}-{env.name}-stateless")
    (alb_id,) = resources(services, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert endpoint["Arn"] == {"Ref": alb_id}
    assert origin["DomainName"] == {"Fn::GetAtt": [alb_id, "DNSName"]}
    # The production listener; the other (the blue/green test route) CloudFront never reaches.
    listeners = properties(services, "AWS::ElasticLoadBalancingV2::Listener")
    (listener,) = [item for item in listeners if item["Port"] == endpoint.get("HTTPPort")]
    assert sorted(item["Port"] for item in listeners) == [80, 8080]
    assert listener["LoadBalancerArn"] == {"Ref": alb_id}
    protocol_policy = {"HTTP": "http-only", "HTTPS": "https-only"}[listener["Protocol"]]
    assert endpoint["OriginProtocolPolicy"] == protocol_policy
    port_key = "HTTPPort" if listener["Protocol"] == "HTTP" else "HTTPSPort"
    assert endpoint[port_key] == listener["Port"]


def test_the_vpc_origin_carries_no_tags(template: dict[str, Any]) -> None:
    # CloudFront refuses any in-place update of a VPC origin a distribution uses (409), tags
    # included: a changed cost tag would fail the deploy.
    (vpc_origin,) = properties(template, "AWS::CloudFront::VpcOrigin")
    assert "Tags" not in vpc_origin


def test_the_build_is_deployed_with_long_lived_assets_and_a_revalidated_shell(
    template: dict[str, Any],
) -> None:
    deployments = {
        logical_id: deployment
        for logical_id, deployment in resources(template, "Custom::CDKBucketDeployment").items()
        if "SourceMarkers" not in deployment["Properties"]  # the settings file (test_auth)
    }
    by_role = {
        "shell" if d["Properties"].get("Include") == ["index.html"] else "assets": d
        for d in deployments.values()
    }
    assert set(by_role) == {"assets", "shell"}
    assets, shell = by_role["assets"]["Properties"], by_role["shell"]["Properties"]
    # The environment's settings file is never the build's: it is excluded, never pruned.
    assert assets["Exclude"] == ["index.html", SETTINGS_KEY]
    assert assets["Prune"] is False and shell["Prune"] is False
    assert shell["Exclude"] == ["*"]
    assert assets["SystemMetadata"]["cache-control"] == "public, max-age=31536000, immutable"
    assert shell["SystemMetadata"]["cache-control"] == "no-cache"
    site = {"Ref": _site_bucket_id(template)}
    assert assets["DestinationBucketName"] == shell["DestinationBucketName"] == site
    shell_id = next(k for k, v in deployments.items() if v is by_role["shell"])
    assert any(
        dep in deployments and dep != shell_id
        for dep in template["Resources"][shell_id].get("DependsOn", [])
    )


def test_outputs_name_the_site_and_api_urls(template: dict[str, Any]) -> None:
    (distribution_id,) = resources(template, "AWS::CloudFront::Distribution")
    domain = {"Fn::GetAtt": [distribution_id, "DomainName"]}
    outputs = template["Outputs"]
    assert outputs["SiteUrl"]["Value"] == {"Fn::Join": ["", ["https://", domain]]}
    assert outputs["ApiUrl"]["Value"] == {"Fn::Join": ["", ["https://", domain, "/api"]]}


def test_cost_tags_are_on_every_taggable_frontend_resource(
    template: dict[str, Any], env: EnvironmentConfig, config: DeliveryConfig
) -> None:
    expected = {
        "project": config.project.name,
        "environment": env.name,
        "owner": config.project.owner,
        "cost-center": config.project.cost_center,
    }
    for resource_type in TAGGABLE:
        found = properties(template, resource_type)
        assert found, resource_type
        for props in found:
            container = props.get("DistributionConfig", props)
            tags = props.get("Tags", container.get("Tags", []))
            assert expected.items() <= {t["Key"]: t["Value"] for t in tags}.items(), resource_type


def _load_app_module() -> Any:
    spec = importlib.util.spec_from_file_location("delivery_app", ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_web_build_is_one_clear_line(tmp_path: Path) -> None:
    app = _load_app_module()
    assert app.web_build_error(ROOT / "services" / "web" / "dist") is None
    message = app.web_build_error(tmp_path / "dist")
    assert message == f"{tmp_path / 'dist'}/index.html not found: run make web-build"
