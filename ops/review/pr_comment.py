"""Post the template diff on its pull request: one comment, edited on every push.

    PR_NUMBER=12 GITHUB_REPOSITORY=o/r GITHUB_TOKEN=... \\
        python -m ops.review.pr_comment --report build/diff/report.md

The report also goes to the job summary ($GITHUB_STEP_SUMMARY) when the step has one, so the
full text stays readable when the comment had to be shortened.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from config.exit_codes import BAD_INPUT, SUCCESS
from ops.github_api import GitHubClient, GitHubError, client_from_environment

MARKER = "<!-- template-diff -->"


def comment_body(report: str, head_sha: str | None) -> str:
    at = f" at `{head_sha[:7]}`" if head_sha else ""
    header = f"**Template diff of this pull request{at}** (offline synth of base and head)"
    return f"{MARKER}\n{header}\n\n{report}"


def append_summary(summary: Path, report: str) -> None:
    with summary.open("a", encoding="utf-8") as handle:
        handle.write(report if report.endswith("\n") else report + "\n")


def post(client: GitHubClient, *, pull_request: int, report: str, head_sha: str | None) -> str:
    return client.upsert_comment(pull_request, MARKER, comment_body(report, head_sha))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Comment the template diff on the pull request")
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)

    missing = [
        name for name in ("PR_NUMBER", "GITHUB_REPOSITORY", "GITHUB_TOKEN") if not os.getenv(name)
    ]
    if missing:
        print(f"pr-comment: missing environment variable(s): {', '.join(missing)}", file=sys.stderr)
        return BAD_INPUT
    number = os.environ["PR_NUMBER"]
    if not number.isdigit():
        print(f"pr-comment: PR_NUMBER must be a number, got {number!r}", file=sys.stderr)
        return BAD_INPUT
    try:
        report = args.report.read_text(encoding="utf-8")
    except OSError as error:
        print(f"pr-comment: cannot read {args.report}: {error.strerror}", file=sys.stderr)
        return BAD_INPUT

    if summary := os.getenv("GITHUB_STEP_SUMMARY"):
        append_summary(Path(summary), report)
    try:
        url = post(
            client_from_environment(os.environ),
            pull_request=int(number),
            report=report,
            head_sha=os.getenv("HEAD_SHA") or None,
        )
    except GitHubError as error:
        print(f"pr-comment: {error}", file=sys.stderr)
        return error.exit_code
    print(f"template diff commented: {url}")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
