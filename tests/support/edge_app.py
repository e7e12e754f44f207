"""A small app with the frontend in a shape the shipped environments do not use.

The shipped environments configure no certificate, so the distribution with a custom
certificate and alternate domain name is synthesized here, once per session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, RemovalPolicy, Stack

from infra.frontend import StaticSite


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
    )
    assembly = app.synth()
    return dict(assembly.get_stack_by_name("EdgeShapes").template)
