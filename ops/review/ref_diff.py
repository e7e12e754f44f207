"""The template diff between two versions of this repository, synthesized side by side.

    python -m ops.review.ref_diff --base origin/main --out build/diff/report.md
    python -m ops.review.ref_diff --base main --head rollback/abc1234 --out ...

The base (and the head, when it is a git ref) is exported with `git archive` and synthesized
by its own app.py; without --head the head is this working tree. Both sides synthesize with
their own cdk.json feature flags, and with this tree's web build (services/web/dist is not in
git): the diff is about infrastructure, a web-only change shows no template change.

`make diff` and `make rollback` both come here, so a pull request and a rollback are judged by
the same code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from config.exit_codes import BAD_INPUT, SUCCESS
from config.paths import ROOT
from ops.checkout import git, run_app
from ops.common import CommandError, write_atomically
from ops.review.cdk_diff import CdkDiffError
from ops.review.pr_comment import append_summary
from ops.review.template_diff import diff_assemblies, render_markdown

WEB_DIST = Path("services/web/dist")


class RefDiffError(CommandError):
    """Why the diff could not be computed: FAILURE, or BAD_INPUT for a ref or build to fix."""


def resolve_commit(repo: Path, ref: str) -> str:
    """The commit ``ref`` names, or a RefDiffError saying how to make it available."""
    found = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        branch = ref.removeprefix("origin/")
        raise RefDiffError(
            f"git ref {ref!r} is not in this clone (a CI checkout fetches one commit: "
            f"run 'git fetch --no-tags origin {branch}' first)",
            exit_code=BAD_INPUT,
        )
    return found.stdout.strip()


def export_ref(repo: Path, ref: str, destination: Path) -> Path:
    """The files of commit ``ref`` under ``destination`` (no .git), plus this tree's web build."""
    commit = resolve_commit(repo, ref)
    destination.mkdir(parents=True)
    with tempfile.TemporaryFile() as archive:
        completed = subprocess.run(  # noqa: S603 - fixed git argv, no shell
            ["git", "archive", "--format=tar", commit],  # noqa: S607
            cwd=repo,
            stdout=archive,
            stderr=subprocess.PIPE,
            check=False,
        )
        if completed.returncode != 0:
            raise RefDiffError(f"git archive {ref} failed: {completed.stderr.decode().strip()}")
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            # Our own git's archive of our own commit; "data" still refuses links out of it.
            tar.extractall(destination, filter="data")
    copy_web_build(repo, destination)
    return destination


def copy_web_build(repo: Path, destination: Path) -> None:
    source = repo / WEB_DIST
    if not (source / "index.html").is_file():
        raise RefDiffError(
            f"{source}/index.html not found: run make web-build", exit_code=BAD_INPUT
        )
    shutil.copytree(source, destination / WEB_DIST, dirs_exist_ok=True)


def synthesize(source: Path, outdir: Path) -> Path:
    """``source`` synthesized into ``outdir`` with its own environment file."""
    completed = run_app(source, outdir)
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RefDiffError(f"synth of {source} failed (exit {completed.returncode}): {last}")
    return outdir


def diff_refs(repo: Path, *, base: str, head: str | None, workdir: Path) -> str:
    """Markdown template diff of ``base`` against ``head`` (a ref, or None: the working tree)."""
    # Each synth runs in its own directory: relative paths would point elsewhere there.
    repo, workdir = repo.resolve(), workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    base_out = synthesize(export_ref(repo, base, workdir / "base"), workdir / "base.out")
    head_source = repo if head is None else export_ref(repo, head, workdir / "head")
    head_out = synthesize(head_source, workdir / "head.out")
    try:
        return render_markdown(diff_assemblies(base_out, head_out))
    except CdkDiffError as error:
        # The callers (make diff, make rollback) stop on a RefDiffError with its one line.
        raise RefDiffError(str(error), exit_code=error.exit_code) from None


def publish(report: str, *, out: Path, summary: str | None) -> None:
    """The report file, and in GitHub Actions the job summary: fork PRs get no comment."""
    write_atomically(out, report)
    if summary:
        append_summary(Path(summary), report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Template diff of two versions of this repo")
    parser.add_argument("--base", required=True, help="git ref of the base (e.g. origin/main)")
    parser.add_argument("--head", help="git ref of the head (default: this working tree)")
    parser.add_argument("--out", type=Path, required=True, help="Markdown report to write")
    parser.add_argument("--workdir", type=Path, help="exports and assemblies (default: --out's)")
    args = parser.parse_args(argv)
    try:
        report = diff_refs(
            ROOT, base=args.base, head=args.head, workdir=args.workdir or args.out.parent / "work"
        )
    except RefDiffError as error:
        print(f"diff: {error}", file=sys.stderr)
        return error.exit_code
    publish(report, out=args.out, summary=os.getenv("GITHUB_STEP_SUMMARY") or None)
    print(report, end="")
    return SUCCESS


if __name__ == "__main__":
    raise SystemExit(main())
