"""Names of the roles `cdk bootstrap` creates in every account (default qualifier)."""

from __future__ import annotations

QUALIFIER = "hnb659fds"


def lookup_role_arn(account: str, region: str) -> str:
    """Read-only role (ReadOnlyAccess, KMS decrypt denied) the pipeline account may assume.

    Bootstrapping an environment with `--trust <pipeline account>` lets the pipeline read
    deployed templates (change reports) and alarm states (bake) through it; nothing more.
    """
    return f"arn:aws:iam::{account}:role/cdk-{QUALIFIER}-lookup-role-{account}-{region}"
