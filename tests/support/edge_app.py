"""A small app with the edge constructs in the shapes the shipped stage does not build yet.

The shipped environments have no load balancer until the services stack lands, so the API
behaviour of the distribution and the ALB web ACL are synthesized here, once per session,
against stand-in inputs (an origin domain, an ALB ARN and a secret reference as strings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, RemovalPolicy, Stack

from infra.frontend import StaticSite
from infra.waf import AlbWaf

API_ORIGIN_DOMAIN = "internal-todo-alb-123.eu-west-1.elb.amazonaws.com"
ORIGIN_VERIFY_VALUE = "{{resolve:secretsmanager:todo-origin-verify:SecretString:value}}"
ALB_ARN = (
    "arn:aws:elasticloadbalancing:eu-west-1:222222222222:loadbalancer/app/todo/0123456789abcdef"
)
ALB_RATE_LIMIT = 1234


def synthesize_edge_app(outdir: Path, web_dist: Path) -> dict[str, Any]:
    """Synthesize the test stack into ``outdir`` and return its template."""
    web_dist.mkdir(parents=True, exist_ok=True)
    (web_dist / "index.html").write_text("<!doctype html><title>t</title>\n", encoding="utf-8")
    app = App(outdir=str(outdir), analytics_reporting=False)
    stack = Stack(
        app,
        "EdgeShapes",
        env=Environment(account="222222222222", region="eu-west-1"),
    )
    StaticSite(
        stack,
        "Site",
        web_dist=web_dist,
        price_class="PriceClass_100",
        log_retention_days=30,
        removal_policy=RemovalPolicy.RETAIN,
        certificate_arn=(
            "arn:aws:acm:us-east-1:222222222222:certificate/00000000-0000-4000-8000-000000000000"
        ),
        domain_names=["app.example.com"],
        api_origin_domain=API_ORIGIN_DOMAIN,
        api_origin_https=True,
        origin_verify_header_value=ORIGIN_VERIFY_VALUE,
    )
    AlbWaf(stack, "AlbWaf", load_balancer_arn=ALB_ARN, rate_limit=ALB_RATE_LIMIT, name="todo-alb")
    assembly = app.synth()
    return dict(assembly.get_stack_by_name("EdgeShapes").template)
