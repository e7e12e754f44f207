"""Which GitHub Actions tokens may assume a role: one repository, one branch, exactly."""

from __future__ import annotations

from typing import Any

from config.model import GITHUB_OIDC_HOST

# Literal under StringEquals, but a subject that looks like a pattern invites someone to
# switch the operator to StringLike later.
_PATTERN_CHARACTERS = "*?"


def branch_subject(repository: str, branch: str) -> str:
    """The `sub` claim of a workflow run on ``branch`` of ``repository`` (no environment).

    A job that names a GitHub environment gets `repo:<repo>:environment:<name>` instead, so
    such a job cannot use a role trusted this way.
    """
    if any(char in f"{repository}{branch}" for char in _PATTERN_CHARACTERS):
        raise ValueError(
            f"a trusted subject names one repository and one branch, got {repository!r} "
            f"and {branch!r}"
        )
    return f"repo:{repository}:ref:refs/heads/{branch}"


def branch_conditions(*, audience: str, repository: str, branch: str) -> dict[str, Any]:
    """StringEquals on both claims: no pattern matching, so no other repository or branch."""
    return {
        "StringEquals": {
            f"{GITHUB_OIDC_HOST}:aud": audience,
            f"{GITHUB_OIDC_HOST}:sub": branch_subject(repository, branch),
        }
    }
