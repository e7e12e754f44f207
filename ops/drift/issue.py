"""Keep one open GitHub issue (label "drift") saying what drifted; close it once nothing has.

    GITHUB_REPOSITORY=o/r GITHUB_TOKEN=... \\
        python -m ops.drift.issue --report build/drift/drift.json
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from config.exit_codes import BAD_INPUT, SUCCESS
from ops.drift.detect import StackDrift, drifted, from_json, render
from ops.github_api import GitHubClient, GitHubError, client_from_environment

LABEL = "drift"


def issue_title(results: list[StackDrift]) -> str:
    stacks = sum(result.status == "DRIFTED" for result in results)
    return f"Drift detected in {stacks} stack{'s' if stacks != 1 else ''}"


def sync(client: GitHubClient, results: list[StackDrift], checked_at: str) -> str | None:
    """The issue's URL; None when nothing drifted and no issue was open."""
    if not drifted(results):
        return client.sync_issue(
            LABEL, "Drift detected", None, close_comment=f"No drift detected on {checked_at}."
        )
    body = (
        "Resources changed outside CloudFormation. Bring them back through a commit (or "
        "`git revert` of the manual change's cause) rather than by hand; this issue is "
        "updated by every drift check and closed when none is found.\n\n"
        + render(results, checked_at)
    )
    return client.sync_issue(LABEL, issue_title(results), body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Open, update or close the drift issue")
    parser.add_argument("--report", type=Path, required=True, help="drift.json of make drift")
    args = parser.parse_args(argv)
    try:
        results, checked_at = from_json(args.report.read_text(encoding="utf-8"))
    except OSError as error:
        print(f"drift-issue: cannot read {args.report}: {error.strerror}", file=sys.stderr)
        return BAD_INPUT
    except (ValueError, KeyError, TypeError) as error:
        print(f"drift-issue: {args.report} is not a drift report: {error!r}", file=sys.stderr)
        return BAD_INPUT
    try:
        url = sync(client_from_environment(os.environ), results, checked_at)
    except GitHubError as error:
        print(f"drift-issue: {error}", file=sys.stderr)
        return error.exit_code
    print(f"drift issue: {url}" if url else "drift issue: nothing drifted, none open")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
