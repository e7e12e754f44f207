"""Fixtures of the pipeline tests that talk to GitHub: a real local server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ops.github_api import GitHubClient
from tests.support.github_server import REPOSITORY, TOKEN, GitHubState, github_server


@pytest.fixture
def github() -> Iterator[GitHubState]:
    with github_server() as state:
        yield state


@pytest.fixture
def github_env(github: GitHubState, monkeypatch: pytest.MonkeyPatch) -> GitHubState:
    """The variables a workflow step gets, pointing at the local server."""
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
    monkeypatch.setenv("GITHUB_API_URL", github.base_url)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return github


@pytest.fixture
def client(github: GitHubState) -> GitHubClient:
    return GitHubClient(token=TOKEN, repository=REPOSITORY, api_url=github.base_url)
