"""Push the branch `make rollback` prepared and open its pull request.

    GITHUB_TOKEN=... GITHUB_REPOSITORY=o/r python -m ops.rollback.pr

Reads build/rollback/rollback.json and pr-body.md. The push authenticates with the token in
the remote URL (built from GITHUB_SERVER_URL); the token never appears in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from pathlib import Path

from config.exit_codes import BAD_INPUT, SUCCESS
from config.paths import ROOT
from ops.checkout import git
from ops.common import CommandError
from ops.github_api import GitHubClient, GitHubError, client_from_environment
from ops.rollback.revert import OUT_DIR

DEFAULT_SERVER_URL = "https://github.com"


class RollbackPrError(CommandError):
    """Why the branch was not pushed: FAILURE, or BAD_INPUT for what the caller must fix."""


def push_url(server_url: str, repository: str, token: str) -> str:
    parts = urllib.parse.urlsplit(server_url)
    if parts.scheme != "https" or not parts.netloc:
        raise RollbackPrError(
            f"GITHUB_SERVER_URL must be an https URL, got {server_url!r}", BAD_INPUT
        )
    quoted = urllib.parse.quote(token, safe="")
    return (
        f"https://x-access-token:{quoted}@{parts.netloc}{parts.path.rstrip('/')}/{repository}.git"
    )


def push_branch(repo: Path, remote: str, branch: str, *, secret: str) -> None:
    """Push ``branch`` to ``remote``; errors are shown with ``secret`` masked."""
    pushed = git(repo, "push", "--quiet", remote, f"refs/heads/{branch}:refs/heads/{branch}")
    if pushed.returncode != 0:
        lines = pushed.stderr.strip().splitlines()
        # git's own verdict, not the generic advice it prints after it.
        detail = " ".join(
            [line for line in lines if line.startswith(("fatal:", "error:", " ! "))]
            or lines[-1:]
            or ["no output"]
        )
        for hidden in {secret, urllib.parse.quote(secret, safe="")} - {""}:
            detail = detail.replace(hidden, "***")
        raise RollbackPrError(f"git push of {branch} failed: {detail}")


def read_prepared(out_dir: Path) -> tuple[dict[str, str], str]:
    try:
        prepared = json.loads((out_dir / "rollback.json").read_text(encoding="utf-8"))
        body = (out_dir / "pr-body.md").read_text(encoding="utf-8")
        return {key: str(prepared[key]) for key in ("branch", "base_branch", "title")}, body
    except (OSError, ValueError, KeyError) as error:
        raise RollbackPrError(
            f"no prepared rollback in {out_dir} ({error.__class__.__name__}): run make rollback",
            BAD_INPUT,
        ) from None


def open_pull_request(
    repo: Path, *, remote: str, client: GitHubClient, out_dir: Path, secret: str
) -> str:
    prepared, body = read_prepared(out_dir)
    push_branch(repo, remote, prepared["branch"], secret=secret)
    return client.create_pull_request(
        head=prepared["branch"], base=prepared["base_branch"], title=prepared["title"], body=body
    )


def main(argv: list[str] | None = None) -> int:
    # Everything comes from the workflow's environment; the parser gives --help.
    argparse.ArgumentParser(description="Push the rollback branch and open its PR").parse_args(argv)
    try:
        client = client_from_environment(os.environ)
        remote = push_url(
            os.getenv("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL,
            client.repository,
            client.token,
        )
        url = open_pull_request(
            ROOT, remote=remote, client=client, out_dir=OUT_DIR, secret=client.token
        )
    except (RollbackPrError, GitHubError) as error:
        print(f"rollback-pr: {error}", file=sys.stderr)
        return error.exit_code
    print(f"rollback pull request: {url}")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
