"""The GitHub client against a real local HTTP server: the state GitHub would end up in."""

from __future__ import annotations

import socket

import pytest

from config.exit_codes import BAD_INPUT, FAILURE
from ops.github_api import (
    MAX_BODY_CHARS,
    GitHubClient,
    GitHubConfigurationError,
    GitHubError,
    client_from_environment,
    fit_body,
)
from tests.support.github_server import REPOSITORY, TOKEN, GitHubState

MARKER = "<!-- template-diff -->"


def test_every_call_carries_the_token(github: GitHubState, client: GitHubClient) -> None:
    client.upsert_comment(7, MARKER, "first")
    assert github.requests
    assert {auth for _, _, auth in github.requests} == {f"Bearer {TOKEN}"}


def test_a_second_upsert_edits_the_marked_comment_found_on_a_later_page(
    github: GitHubState, client: GitHubClient
) -> None:
    for number in range(5):  # page size 2: the marked comment lands on page 3
        github.add_comment(7, f"someone else's comment {number}")
    first_url = client.upsert_comment(7, MARKER, "diff one")
    github.add_comment(7, "a reviewer answers")
    second_url = client.upsert_comment(7, MARKER, "diff two")

    mine = [c for c in github.comments_on(7) if MARKER in c["body"]]
    assert len(mine) == 1
    assert first_url == second_url == mine[0]["html_url"]
    assert mine[0]["body"] == f"{MARKER}\ndiff two"
    assert len(github.comments_on(7)) == 7
    pages = [path for method, path, _ in github.requests if method == "GET" and "page=" in path]
    assert pages, "the comment listing must have been followed past page 1"


def test_comments_on_other_pull_requests_are_left_alone(
    github: GitHubState, client: GitHubClient
) -> None:
    other = github.add_comment(8, f"{MARKER}\nother PR")
    client.upsert_comment(7, MARKER, "this PR")
    assert github.comments[other["id"]]["body"] == f"{MARKER}\nother PR"
    assert [c["body"] for c in github.comments_on(7)] == [f"{MARKER}\nthis PR"]


def test_an_issue_is_opened_updated_then_closed_with_a_comment(
    github: GitHubState, client: GitHubClient
) -> None:
    unrelated = github.add_issue("unrelated", "x", ["bug"])
    pull = github.add_issue("a pull request", "x", ["drift"], pull=True)

    assert client.sync_issue("drift", "Drift detected", None) is None
    assert [i["title"] for i in github.issues.values() if i["state"] == "open"] == [
        "unrelated",
        "a pull request",
    ]

    opened = client.sync_issue("drift", "Drift detected", "stack A drifted")
    drift = [i for i in github.issues.values() if i["title"] == "Drift detected"]
    assert len(drift) == 1 and drift[0]["labels"] == [{"name": "drift"}]
    assert opened == drift[0]["html_url"]

    updated = client.sync_issue("drift", "Drift detected (2 stacks)", "stacks A and B drifted")
    drift = [i for i in github.issues.values() if "Drift detected" in i["title"]]
    assert len(drift) == 1 and updated == opened
    assert (drift[0]["title"], drift[0]["body"]) == (
        "Drift detected (2 stacks)",
        "stacks A and B drifted",
    )

    client.sync_issue("drift", "Drift detected", None, close_comment="no drift detected today")
    assert drift[0]["state"] == "closed"
    assert [c["body"] for c in github.comments_on(drift[0]["number"])] == [
        "no drift detected today"
    ]
    assert github.issues[unrelated]["state"] == github.issues[pull]["state"] == "open"
    # Closed stays closed: the next clean run finds nothing to do.
    assert client.sync_issue("drift", "Drift detected", None) is None


def test_a_pull_request_is_opened_with_head_and_base(
    github: GitHubState, client: GitHubClient
) -> None:
    url = client.create_pull_request(
        head="rollback/abc1234", base="main", title="Revert abc1234", body="why"
    )
    (pull,) = github.pulls
    assert (pull["head"], pull["base"], pull["title"], pull["body"]) == (
        "rollback/abc1234",
        "main",
        "Revert abc1234",
        "why",
    )
    assert url == pull["html_url"]


def test_a_long_body_is_cut_to_the_limit_with_a_pointer_to_the_full_report(
    github: GitHubState, client: GitHubClient
) -> None:
    client.upsert_comment(7, MARKER, "x" * 100_000)
    (comment,) = github.comments_on(7)
    assert len(comment["body"]) == MAX_BODY_CHARS
    assert comment["body"].startswith(MARKER)
    assert "job summary" in comment["body"][-300:]
    assert fit_body("short") == "short"


@pytest.mark.parametrize(
    ("status", "message"), [(403, "Resource not accessible"), (404, "Not Found"), (502, "oops")]
)
def test_an_error_status_is_one_line_naming_call_path_and_status(
    github: GitHubState, client: GitHubClient, status: int, message: str
) -> None:
    github.failures[("POST", r".*/issues/7/comments")] = (status, message)
    with pytest.raises(GitHubError) as raised:
        client.upsert_comment(7, MARKER, "body")
    text = str(raised.value)
    assert "\n" not in text
    assert f"POST /repos/{REPOSITORY}/issues/7/comments" in text
    assert f"HTTP {status}" in text and message in text


def test_a_wrong_token_is_reported_as_the_401_it_is(github: GitHubState) -> None:
    client = GitHubClient(token="wrong", repository=REPOSITORY, api_url=github.base_url)
    with pytest.raises(GitHubError, match=r"GET .*/issues/1/comments.* HTTP 401 .*Bad credentials"):
        client.upsert_comment(1, MARKER, "body")


def test_an_unreachable_server_is_a_clear_error_too() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GitHubClient(token=TOKEN, repository=REPOSITORY, api_url=f"http://127.0.0.1:{port}")
    with pytest.raises(GitHubError, match=r"GitHub API: POST /repos/.*/pulls failed: ") as failed:
        client.create_pull_request(head="a", base="main", title="t", body="b")
    # The call did not go through: not something the workflow's configuration can fix.
    assert not isinstance(failed.value, GitHubConfigurationError)
    assert failed.value.exit_code == FAILURE


def test_the_environment_must_name_token_and_repository() -> None:
    with pytest.raises(GitHubConfigurationError, match="GITHUB_TOKEN, GITHUB_REPOSITORY") as bad:
        client_from_environment({})
    # Every caller that handles GitHubError handles it too, and exits as for bad input.
    assert isinstance(bad.value, GitHubError)
    assert bad.value.exit_code == BAD_INPUT
    client = client_from_environment({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r"})
    assert client.api_url == "https://api.github.com"
    with pytest.raises(GitHubError, match="owner/name"):
        GitHubClient(token="t", repository="not a repo")
