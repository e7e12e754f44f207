"""Builds the CDK app from already-read, already-validated values (app.py reads the files:
the environment file, the buildspecs, the services' build contexts)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from config.model import DeliveryConfig
from config.names import pipeline_stack_name
from infra.images import ServiceImage
from pipeline.buildspec import Buildspecs
from pipeline.pipeline_stack import PipelineStack


def build_app(
    *,
    config: DeliveryConfig,
    cli_version: str,
    buildspecs: Buildspecs,
    images: Mapping[str, ServiceImage],
    web_dist: Path,
    outdir: Path | None = None,
) -> App:
    # Same commit, same bytes: no analytics resource (the CLI would add one, in-process synth
    # would not) and no stack traces in metadata (they embed jsii's temporary paths).
    # No built-in CloudFormation validation (AppProps.builtinCloudFormationValidation): it is
    # the cfn-lint rule set (the same E/W rule ids) compiled to WebAssembly, and `make gate`
    # runs cfn-lint itself over every template of this assembly, failing on any error or
    # warning, before anything deploys. Building its engine and checking each template again
    # was the largest cost of a synth.
    app = App(
        outdir=str(outdir) if outdir else None,
        analytics_reporting=False,
        stack_traces=False,
        builtin_cloud_formation_validation=False,
        post_cli_context={
            "aws:cdk:disable-stack-trace": True,
            "aws:cdk:disable-creation-stack-traces": True,
        },
    )
    PipelineStack(
        app,
        "Pipeline",
        stack_name=pipeline_stack_name(config.project.name),
        description=f"{config.project.name}: the self-mutating delivery pipeline",
        env=Environment(account=config.pipeline.account, region=config.pipeline.region),
        termination_protection=True,
        config=config,
        cli_version=cli_version,
        buildspecs=buildspecs,
        web_dist=web_dist,
        images=images,
    )
    # cdk-nag runs at every synth, over every stage: an unacknowledged finding stops synthesis.
    Validations.of(app).add_plugins(AwsSolutionsChecks())
    return app
