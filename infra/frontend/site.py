"""The web app: a private S3 bucket behind CloudFront, and the API behind the same domain."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IConstruct

from infra.access_logs import log_sink_bucket
from infra.compliance import (
    acknowledge_nag,
    acknowledge_wildcards,
    explain_cdk_handler,
    ignore_cfn_lint,
    skip_checkov,
)
from infra.replacement import digest, load_balancer_identity

API_PATH_PATTERN = "/api/*"
HSTS_MAX_AGE = Duration.days(730)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# The web app's settings, written at deploy time (the same build runs in every environment).
SETTINGS_KEY = "config.json"


def content_security_policy(sign_in_origin: str | None = None) -> str:
    """The CSP; with a sign-in origin, the web app may also fetch from it (the token endpoint).

    Exactly that origin, no wildcard: the authorize and logout pages are navigations, which
    connect-src does not govern; only the code-for-token exchange is a fetch.
    """
    if sign_in_origin is None:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self';", f"connect-src 'self' {sign_in_origin};"
    )


# The environment file uses CloudFront's own names for price classes.
PRICE_CLASSES = {
    "PriceClass_100": cloudfront.PriceClass.PRICE_CLASS_100,
    "PriceClass_200": cloudfront.PriceClass.PRICE_CLASS_200,
    "PriceClass_All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}
# Vite names everything under assets/ by content hash: a changed file is a new name.
IMMUTABLE_ASSETS = [
    s3deploy.CacheControl.set_public(),
    s3deploy.CacheControl.max_age(Duration.days(365)),
    s3deploy.CacheControl.immutable(),
]
# index.html names the current hashed assets: browsers and CloudFront must revalidate it.
REVALIDATE = [s3deploy.CacheControl.no_cache()]

# Deep links (/todos/42) have no file extension: serve the app shell and let the router
# resolve them. Only the S3 behaviour runs this, so /api/* errors reach clients untouched
# (distribution-wide custom error responses would turn an API 404 into index.html).
SPA_REWRITE = """\
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.indexOf('.', uri.lastIndexOf('/') + 1) === -1) {
    request.uri = '/index.html';
  }
  return request;
}
"""


class StaticSite(Construct):
    """Private, versioned, TLS-only site bucket served by CloudFront through OAC.

    CloudFront only speaks HTTPS to viewers, adds a strict security-headers policy to every
    response, logs to a dedicated log bucket, and (when an API load balancer is given) forwards
    ``/api/*`` uncached to that internal ALB through a CloudFront VPC origin.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        web_dist: Path,
        price_class: str,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
        certificate_arn: str | None = None,
        domain_names: list[str] | None = None,
        web_acl_arn: str | None = None,
        api_load_balancer: elbv2.ApplicationLoadBalancer | None = None,
        api_listener_port: int = 80,
        api_path_pattern: str = API_PATH_PATTERN,
        sign_in_origin: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._sign_in_origin = sign_in_origin
        self.log_bucket = self._log_bucket(
            expiration=Duration.days(log_retention_days), removal_policy=removal_policy
        )
        self.bucket = self._site_bucket(removal_policy)
        self.response_headers_policy = self._security_headers()
        self.spa_rewrite = cloudfront.Function(
            self,
            "SpaRewrite",
            code=cloudfront.FunctionCode.from_inline(SPA_REWRITE),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Extension-less paths serve /index.html (client-side routes)",
        )
        self.api_vpc_origin: cloudfront.VpcOrigin | None = None
        additional_behaviors = (
            self._api_behaviors(
                api_load_balancer, http_port=api_listener_port, path_pattern=api_path_pattern
            )
            if api_load_balancer is not None
            else {}
        )
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
            if certificate_arn
            else None
        )
        self.distribution = self._distribution(
            additional_behaviors=additional_behaviors,
            certificate=certificate,
            domain_names=domain_names,
            price_class=price_class,
            web_acl_arn=web_acl_arn,
        )
        self._explain_distribution(
            has_certificate=certificate is not None, has_waf=bool(web_acl_arn)
        )
        self._deploy_web_build(web_dist)

        self.site_url = f"https://{self.distribution.distribution_domain_name}"
        # Where visitors reach the app: the first alternate domain name when one is set.
        self.public_url = f"https://{domain_names[0]}" if domain_names else self.site_url
        # "/api/*" -> https://<domain>/api: where the http service answers.
        self.api_url = self.site_url + api_path_pattern.removesuffix("*").rstrip("/")

    def _log_bucket(self, *, expiration: Duration, removal_policy: RemovalPolicy) -> s3.Bucket:
        """Where the site bucket's access logs and CloudFront's standard logs go."""
        log_bucket = log_sink_bucket(
            self,
            "LogBucket",
            expiration=expiration,
            removal_policy=removal_policy,
            sink_of="the site bucket and of CloudFront",
            # CloudFront standard logging writes with ACLs: the bucket must accept them.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
        )
        ignore_cfn_lint(
            log_bucket,
            "W3045",
            "CDK grants S3 server access log delivery with the LogDeliveryWrite canned ACL on "
            "a bucket that keeps ACLs on (CloudFront standard logging needs them); all four "
            "public access blocks stay on, so no ACL can make it public",
        )
        return log_bucket

    def _site_bucket(self, removal_policy: RemovalPolicy) -> s3.Bucket:
        return s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

    def _security_headers(self) -> cloudfront.ResponseHeadersPolicy:
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="HSTS, CSP, nosniff, DENY framing, strict referrer",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE,
                    include_subdomains=True,
                    preload=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(self._sign_in_origin),
                    override=True,
                ),
            ),
        )

    def _api_behaviors(
        self, load_balancer: elbv2.ApplicationLoadBalancer, *, http_port: int, path_pattern: str
    ) -> dict[str, cloudfront.BehaviorOptions]:
        """The http service's path (``/api/*``), uncached, to the internal ALB's VPC origin."""
        self.api_vpc_origin = _api_vpc_origin(
            self, load_balancer=load_balancer, http_port=http_port
        )
        return {
            path_pattern: cloudfront.BehaviorOptions(
                origin=origins.VpcOrigin.with_vpc_origin(self.api_vpc_origin),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                response_headers_policy=self.response_headers_policy,
                compress=True,
            )
        }

    def _distribution(
        self,
        *,
        additional_behaviors: dict[str, cloudfront.BehaviorOptions],
        certificate: acm.ICertificate | None,
        domain_names: list[str] | None,
        price_class: str,
        web_acl_arn: str | None,
    ) -> cloudfront.Distribution:
        """HTTPS-only CloudFront: the bucket through OAC by default, logged to the log bucket."""
        return cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{Stack.of(self).stack_name}: web app and API",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.response_headers_policy,
                compress=True,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=self.spa_rewrite,
                        event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                    )
                ],
            ),
            additional_behaviors=additional_behaviors,
            certificate=certificate,
            domain_names=domain_names or None,
            # Enforceable only with a custom certificate: with CloudFront's default
            # *.cloudfront.net certificate the viewer policy is fixed by CloudFront (TLSv1).
            minimum_protocol_version=(
                cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=PRICE_CLASSES[price_class],
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
            web_acl_id=web_acl_arn,
        )

    def _deploy_web_build(self, web_dist: Path) -> None:
        """Copy the web build into the bucket: hashed assets first, then the shell naming them."""
        assets = s3deploy.BucketDeployment(
            self,
            "DeployAssets",
            sources=[s3deploy.Source.asset(str(web_dist))],
            destination_bucket=self.bucket,
            # config.json is the environment's, written by deploy_settings: a file of that
            # name in the build must not overwrite it (and prune=False never deletes it).
            exclude=["index.html", SETTINGS_KEY],
            cache_control=IMMUTABLE_ASSETS,
            # Old hashed assets stay: open tabs may still load them (versioning ages them out).
            prune=False,
            memory_limit=256,
        )
        shell = s3deploy.BucketDeployment(
            self,
            "DeployIndex",
            sources=[s3deploy.Source.asset(str(web_dist))],
            destination_bucket=self.bucket,
            exclude=["*"],
            include=["index.html"],
            cache_control=REVALIDATE,
            prune=False,
            memory_limit=256,
        )
        # The shell may only name assets that are already there.
        shell.node.add_dependency(assets)
        _explain_deployment_handler(Stack.of(self))

    def deploy_settings(self, settings: Mapping[str, Any]) -> s3deploy.BucketDeployment:
        """Write ``settings`` to /config.json at deploy time (deploy-time values resolved).

        Revalidated on every load (no-cache: CloudFront keeps it at most the cache policy's
        1 s minimum), so a new pool or client reaches open tabs on their next load.
        Only this deployment writes the key: the build's deployments exclude it, and none of
        them prunes.
        """
        deployment = s3deploy.BucketDeployment(
            self,
            "DeploySettings",
            sources=[s3deploy.Source.json_data(SETTINGS_KEY, dict(settings))],
            destination_bucket=self.bucket,
            cache_control=REVALIDATE,
            content_type="application/json",
            prune=False,
            # The build's deployments' handler (one function per memory size), explained there.
            memory_limit=256,
        )
        return deployment

    def _explain_distribution(self, *, has_certificate: bool, has_waf: bool) -> None:
        distribution = self.distribution
        geo = (
            "the app is offered worldwide by design; WAF rate limiting and managed rule groups "
            "are the abuse control, not geography"
        )
        acknowledge_nag(distribution, "AwsSolutions-CFR1", geo)
        if not has_certificate:
            default_cert = (
                "no custom certificate is configured for this environment, so CloudFront's "
                "default *.cloudfront.net certificate is used and its TLS policy cannot be "
                "set; viewers are HTTPS-only and HSTS applies; setting frontend.certificate_arn "
                "enforces TLSv1.2_2021"
            )
            acknowledge_nag(distribution, "AwsSolutions-CFR4", default_cert)
            skip_checkov(distribution, "CKV_AWS_174", default_cert)
        if not has_waf:
            no_waf = (
                "waf.enabled is false for this environment (dev: no public traffic worth the "
                "per-ACL cost); staging and prod attach the managed-rules web ACL"
            )
            acknowledge_nag(distribution, "AwsSolutions-CFR2", no_waf)
            skip_checkov(distribution, "CKV_AWS_68", no_waf)


def _api_vpc_origin(
    scope: Construct, *, load_balancer: elbv2.ApplicationLoadBalancer, http_port: int
) -> cloudfront.VpcOrigin:
    """The VPC origin of the internal API load balancer, replaced rather than ever updated.

    CloudFront refuses every in-place update of a VPC origin that a distribution uses (409:
    disassociate it first), and CloudFormation has no create-only property on it to force a
    replacement. So the construct id carries a digest of everything the origin is made of:
    any change, including a replaced load balancer (a new ARN), is a new VPC origin; the
    distribution moves to it and CloudFormation deletes the old one in its cleanup phase.
    """
    # Plain HTTP into the VPC: the listener's CKV_AWS_2 reason explains the transport. The
    # HTTPS settings are required by the API and unused.
    https_port = 443
    protocol = cloudfront.OriginProtocolPolicy.HTTP_ONLY
    ssl_protocols = [cloudfront.OriginSslPolicy.TLS_V1_2]
    settings = {
        "HTTPPort": http_port,
        "HTTPSPort": https_port,
        "OriginProtocolPolicy": protocol.value,
        "OriginSSLProtocols": [ssl_protocol.value for ssl_protocol in ssl_protocols],
    }
    identity = digest({"LoadBalancer": load_balancer_identity(load_balancer), **settings})
    return cloudfront.VpcOrigin(
        scope,
        f"ApiVpcOrigin{identity}",
        endpoint=cloudfront.VpcOriginEndpoint.application_load_balancer(load_balancer),
        http_port=http_port,
        https_port=https_port,
        protocol_policy=protocol,
        origin_ssl_protocols=ssl_protocols,
    )


def _explain_deployment_handler(stack: Stack) -> None:
    """Reasons for the findings on the CDK-managed Lambda that copies the build into S3.

    BucketDeployment adds one singleton handler function (with its role) per stack and
    memory size, directly below the stack.
    """
    for handler in stack.node.children:
        if not handler.node.id.startswith("Custom::CDKBucketDeployment"):
            continue
        explain_cdk_handler(
            handler,
            owner="BucketDeployment",
            calls="copies from the CDK asset bucket to the site bucket through the S3 API",
        )
        role = handler.node.find_child("ServiceRole")
        policy = role.node.find_child("DefaultPolicy").node.find_child("Resource")
        if not isinstance(policy, iam.CfnPolicy):
            raise TypeError(f"{policy.node.path} is not an IAM policy")
        acknowledge_wildcards(
            policy,
            "CDK's BucketDeployment handler role: s3:GetObject*/List*/Abort* on the CDK "
            "asset bucket objects and Put/Delete on this site bucket's objects only",
        )
        _explain_handler_function(handler)
        # With @aws-cdk/aws-lambda:useCdkManagedLogGroup (cdk.json) CDK adds its log group.
        log_group = handler.node.try_find_child("LogGroup")
        if log_group is not None:
            skip_checkov(
                log_group,
                "CKV_AWS_158",
                "CDK's BucketDeployment handler logs only the object keys it copies from the "
                "public web build (no secrets, no user data); CloudWatch Logs encrypts them "
                "at rest with its service key",
            )


def _explain_handler_function(function: IConstruct) -> None:
    acknowledge_nag(
        function,
        "AwsSolutions-L1",
        "CDK pins the BucketDeployment handler runtime with its release; dependabot updates "
        "aws-cdk-lib, which moves it to the latest supported runtime",
    )
    skip_checkov(
        function,
        "CKV_AWS_173",
        "its environment variables hold no secrets (CloudFormation passes bucket names in "
        "the event), and Lambda encrypts them at rest with its service key",
    )
    skip_checkov(
        function,
        "CKV_AWS_45",
        "its one variable is CDK's fixed AWS_CA_BUNDLE path; checkov 3.3 also scans its own "
        "__file__ marker, and a 40-character template path segment (staging's stateless "
        "stack) has the shape of an AWS secret access key: a false positive",
    )
