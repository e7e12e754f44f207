"""This repository as a command finds it: git in a checkout, and a tree's app synthesized.

The template diff, the rollback and the tests' own synthesis all synthesize a tree the same
way, the way `cdk synth` runs app.py, so what they compare is what the pipeline deploys.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# What the CLI adds to cdk.json's context on every `cdk synth` (its contextFromSettings, with
# the default settings): without them the templates lack the aws:cdk:path and asset metadata
# that the pipeline's Synth step writes, and would not be what deploys.
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:bundling-stacks": ["**"],
}


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed git argv, no shell
        ["git", *args],  # noqa: S607 - git from PATH, as every developer runs it
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )


def cli_context(source: Path) -> dict[str, Any]:
    """The context `cdk synth` hands ``source``'s app: cdk.json's, then the CLI's own."""
    context = json.loads((source / "cdk.json").read_text(encoding="utf-8")).get("context", {})
    return {**context, **CLI_CONTEXT}


def run_app(
    source: Path, outdir: Path, *, config_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``source``'s app.py as `cdk synth` runs it, into ``outdir``.

    The CLI hands cdk.json's context (the feature flags) and its own (CLI_CONTEXT) to the app
    in CDK_CONTEXT_JSON; without them the templates would differ from what `make synth` and
    the pipeline deploy. The app reads ``source``'s own environments.toml unless
    ``config_file`` names another, whatever the caller's DELIVERY_CONFIG says.
    """
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(cli_context(source)),
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "DELIVERY_CONFIG": str(config_file) if config_file else "",
    }
    return subprocess.run(  # noqa: S603 - this interpreter running the tree's app.py
        [sys.executable, str(source / "app.py")],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
