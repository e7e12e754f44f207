"""Rollback is `git revert`: prepare the revert of one commit of main as a branch to review.

    python -m ops.rollback.revert --commit 1a2b3c4     # or --commit "" for the last merge

Picks the commit (default: the newest merge on main's first-parent line, or main's newest
commit where pull requests are squash-merged), refuses anything main never had, and creates
branch ``rollback/<sha>`` from main with the revert on it (``-m 1`` for a merge). The revert
happens in a temporary worktree, so the caller's checkout is never touched; a conflict is
aborted and leaves no branch behind. Then the template diff of the revert (main vs the
branch, the same code as `make diff`) goes into build/rollback/pr-body.md, which
`make rollback-pr` pushes and opens. Exit 2 for a bad or foreign commit, 1 for a conflict.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from config.exit_codes import BAD_INPUT, FAILURE, SUCCESS
from config.paths import ROOT
from ops.checkout import git
from ops.common import CommandError, load_config_or_exit, write_atomically
from ops.review.ref_diff import RefDiffError, diff_refs

OUT_DIR = ROOT / "build" / "rollback"
_SHA = re.compile(r"[0-9a-fA-F]{7,40}")

# (repo, base ref, head ref) -> Markdown template diff
DiffFunction = Callable[[Path, str, str], str]


class RollbackError(CommandError):
    """Why no rollback branch was made: FAILURE, or BAD_INPUT for a commit or clone to fix."""


@dataclass(frozen=True, kw_only=True)
class Commit:
    sha: str
    short: str
    subject: str
    author: str
    parents: int

    @property
    def merge(self) -> bool:
        return self.parents > 1


@dataclass(frozen=True, kw_only=True)
class Rollback:
    reverted: Commit
    branch: str
    main: str  # the ref the branch starts from (origin/main in CI)
    base_branch: str  # the branch the pull request goes into
    revert_sha: str

    @property
    def title(self) -> str:
        return f'Rollback: revert {self.reverted.short} "{self.reverted.subject}"'[:250]


def _out(repo: Path, *args: str) -> str:
    completed = git(repo, *args)
    if completed.returncode != 0:
        raise RollbackError(f"git {' '.join(args)}: {completed.stderr.strip()}", exit_code=FAILURE)
    return completed.stdout.strip()


def main_ref(repo: Path, branch: str) -> str:
    """origin/<branch> when the clone has it (CI), else the local branch."""
    if _out(repo, "rev-parse", "--is-shallow-repository") == "true":
        raise RollbackError(
            "this clone is shallow: main's history is needed (actions/checkout fetch-depth: 0)",
            exit_code=BAD_INPUT,
        )
    for ref, name in ((f"refs/remotes/origin/{branch}", f"origin/{branch}"), (branch, branch)):
        if git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode == 0:
            return name
    raise RollbackError(
        f"no branch {branch!r} (nor origin/{branch}) in this clone", exit_code=BAD_INPUT
    )


def describe(repo: Path, sha: str) -> Commit:
    full, short, subject, author, parents = _out(
        repo, "show", "--no-patch", "--format=%H%x00%h%x00%s%x00%an <%ae>%x00%P", sha
    ).split("\0")
    return Commit(
        sha=full, short=short, subject=subject, author=author, parents=len(parents.split())
    )


def choose_commit(repo: Path, commit: str, main: str) -> Commit:
    """The commit to revert: ``commit``, or main's last merge when empty; it must be on main."""
    if not commit:
        merges = _out(repo, "rev-list", "--first-parent", "--merges", "--max-count=1", main)
        return describe(repo, merges or _out(repo, "rev-parse", main))
    if not _SHA.fullmatch(commit):
        raise RollbackError(
            f"COMMIT must be a commit SHA of 7 to 40 hex digits, got {commit!r}",
            exit_code=BAD_INPUT,
        )
    found = git(repo, "rev-parse", "--verify", "--quiet", f"{commit.lower()}^{{commit}}")
    if found.returncode != 0:
        raise RollbackError(f"commit {commit} not found in this clone", exit_code=BAD_INPUT)
    sha = found.stdout.strip()
    if git(repo, "merge-base", "--is-ancestor", sha, main).returncode != 0:
        raise RollbackError(
            f"commit {commit} is not on {main}'s history: only what {main} shipped is rolled back",
            exit_code=BAD_INPUT,
        )
    return describe(repo, sha)


def _conflicts(worktree: Path) -> list[str]:
    return git(worktree, "diff", "--name-only", "--diff-filter=U").stdout.split()


def create_revert_branch(repo: Path, reverted: Commit, *, main: str, base_branch: str) -> Rollback:
    """Branch rollback/<short> = main + the revert; on any failure no branch remains."""
    branch = f"rollback/{reverted.short}"
    if git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}").returncode == 0:
        raise RollbackError(
            f"branch {branch} already exists: delete it (git branch -D {branch}) to start over",
            exit_code=BAD_INPUT,
        )
    with tempfile.TemporaryDirectory(prefix="rollback-") as tmp:
        worktree = Path(tmp) / "worktree"
        _out(repo, "worktree", "add", "--quiet", "-b", branch, str(worktree), main)
        try:
            mainline = ["-m", "1"] if reverted.merge else []
            reverting = git(worktree, "revert", "--no-edit", *mainline, reverted.sha)
            if reverting.returncode != 0:
                conflicts = _conflicts(worktree)
                git(worktree, "revert", "--abort")
                _out(repo, "worktree", "remove", "--force", str(worktree))
                _out(repo, "branch", "-D", branch)
                if conflicts:
                    more = f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
                    raise RollbackError(
                        f"reverting {reverted.short} conflicts with later changes on {main} in: "
                        f"{', '.join(conflicts[:10])}{more} (revert by hand, or roll back the "
                        "later changes first)",
                        exit_code=FAILURE,
                    )
                last = (reverting.stderr.strip() or reverting.stdout.strip()).splitlines()
                raise RollbackError(
                    f"git revert {reverted.short} failed: {last[-1] if last else 'no output'}",
                    exit_code=FAILURE,
                )
        finally:
            if worktree.exists():
                git(repo, "worktree", "remove", "--force", str(worktree))
            git(repo, "worktree", "prune")
    return Rollback(
        reverted=reverted,
        branch=branch,
        main=main,
        base_branch=base_branch,
        revert_sha=_out(repo, "rev-parse", f"refs/heads/{branch}"),
    )


def pr_body(rollback: Rollback, template_diff: str) -> str:
    reverted = rollback.reverted
    kind = "merge commit (reverted against its first parent)" if reverted.merge else "commit"
    return "\n".join(
        [
            f"Rolls back {kind} `{reverted.sha}`.",
            "",
            f"- **subject**: {reverted.subject}",
            f"- **author**: {reverted.author}",
            f"- **revert commit**: `{rollback.revert_sha}` on `{rollback.branch}`",
            "",
            "### How to review",
            "",
            "1. This pull request's diff must be the reverted commit's, inverted: compare "
            f"with `git diff --stat {reverted.short}^1 {reverted.short}`.",
            "2. Check the template diff below: only what the reverted commit changed should "
            "change back. Stateful replacements (bold) lose data: stop and roll forward instead.",
            "3. Merging deploys like any change: dev first, then staging and prod after approval.",
            "",
            template_diff.strip(),
            "",
        ]
    )


def run(
    repo: Path,
    commit: str,
    *,
    main_branch: str,
    diff: DiffFunction,
    out_dir: Path,
) -> int:
    """The whole local part; prints one line per problem and returns the exit code."""
    try:
        main = main_ref(repo, main_branch)
        reverted = choose_commit(repo, commit.strip(), main)
        rollback = create_revert_branch(repo, reverted, main=main, base_branch=main_branch)
    except RollbackError as error:
        print(f"rollback: {error}", file=sys.stderr)
        return error.exit_code
    try:
        template_diff = diff(repo, main, rollback.branch)
    except RefDiffError as error:
        # All or nothing: a rerun starts from scratch instead of tripping over the branch.
        git(repo, "branch", "-D", rollback.branch)
        print(f"rollback: template diff of the revert failed: {error}", file=sys.stderr)
        return FAILURE
    write_atomically(out_dir / "pr-body.md", pr_body(rollback, template_diff))
    document = {**asdict(rollback), "title": rollback.title}
    write_atomically(out_dir / "rollback.json", json.dumps(document, indent=2) + "\n")
    print(
        f"branch {rollback.branch} reverts {reverted.short} ({reverted.subject}); "
        f"pull request text in {out_dir / 'pr-body.md'}"
    )
    return SUCCESS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prepare the revert of a commit of main")
    parser.add_argument(
        "--commit", default="", help="SHA to revert (empty: the last merge to main)"
    )
    args = parser.parse_args(argv)

    main_branch = load_config_or_exit().pipeline.source.branch

    def template_diff(repo: Path, base: str, head: str) -> str:
        return diff_refs(repo, base=base, head=head, workdir=OUT_DIR / "work")

    return run(ROOT, args.commit, main_branch=main_branch, diff=template_diff, out_dir=OUT_DIR)


if __name__ == "__main__":
    raise SystemExit(main())
