#!/usr/bin/env python3
"""CDK entry point: reads the environment file, package.json, the buildspecs, the services'
build contexts (their image tags) and the web build, hands typed values to the CDK app and
synthesizes it. Nothing below reads a file or the environment for the synthesis.

DELIVERY_CONFIG names an alternative environment file (tests and forks' experiments use it);
config.model.config_file resolves it, for this entry point and every command alike. A bad file
ends the process with one line naming the file, environment and field, exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from config.exit_codes import BAD_INPUT, SUCCESS
from config.model import ConfigError, config_file, load_config
from config.paths import ROOT


def cli_version() -> str:
    """The CDK CLI version pinned in package.json, so the pipeline runs the same CLI."""
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    return str(package["devDependencies"]["aws-cdk"])


def web_build_error(web_dist: Path) -> str | None:
    """The one-line reason synthesis cannot deploy the web app, or None when it can."""
    if (web_dist / "index.html").is_file():
        return None
    shown = web_dist.relative_to(ROOT) if web_dist.is_relative_to(ROOT) else web_dist
    return f"{shown}/index.html not found: run make web-build"


def main() -> int:
    try:
        config = load_config(config_file())
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT

    web_dist = ROOT / "services" / "web" / "dist"
    missing = web_build_error(web_dist)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return BAD_INPUT

    # Imported after validation: a bad file is reported without waiting for jsii to start.
    from infra.images import pipeline_images  # noqa: PLC0415
    from pipeline.buildspec import load_buildspecs  # noqa: PLC0415
    from pipeline.cdk_app import build_app  # noqa: PLC0415

    app = build_app(
        config=config,
        cli_version=cli_version(),
        buildspecs=load_buildspecs(),
        images=pipeline_images(config),
        web_dist=web_dist,
    )
    app.synth()
    return SUCCESS


if __name__ == "__main__":
    sys.exit(main())
