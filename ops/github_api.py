"""The few GitHub REST calls the workflows need, on the standard library.

One comment per pull request (found again by a hidden marker), one open issue per label
(opened, updated, closed), and a pull request. Every failure becomes one GitHubError line
naming the call, the URL path and the status; the CLIs print it instead of a traceback and
exit with its code (a missing environment variable is the workflow's setup, not GitHub).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from config.exit_codes import BAD_INPUT
from ops.common import CommandError

DEFAULT_API_URL = "https://api.github.com"
# GitHub refuses comment, issue and pull request bodies longer than this (characters).
MAX_BODY_CHARS = 65536
TRUNCATION_NOTE = (
    "\n\n---\n*Truncated: GitHub limits this text to 65536 characters. The full report is "
    "in the workflow run's job summary and its artifact.*\n"
)
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
_TIMEOUT_SECONDS = 30
_PAGE_SIZE = 100


class GitHubError(CommandError):
    """A GitHub API call failed; the message is one line meant for the workflow log."""


class GitHubConfigurationError(GitHubError):
    """The workflow step does not say which repository to call, or with which token."""

    exit_code = BAD_INPUT


def fit_body(body: str) -> str:
    """``body`` as GitHub accepts it: cut at the limit with a note saying where the rest is."""
    if len(body) <= MAX_BODY_CHARS:
        return body
    return body[: MAX_BODY_CHARS - len(TRUNCATION_NOTE)] + TRUNCATION_NOTE


def _next_page(link_header: str | None) -> str | None:
    match = _NEXT_LINK.search(link_header or "")
    return match.group(1) if match else None


@dataclass(frozen=True, kw_only=True)
class GitHubClient:
    token: str
    repository: str  # owner/name
    api_url: str = DEFAULT_API_URL

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", self.repository):
            raise GitHubError(f"repository must be owner/name, got {self.repository!r}")
        scheme = urllib.parse.urlsplit(self.api_url).scheme
        if scheme not in {"http", "https"}:
            raise GitHubError(f"GitHub API URL must be http(s), got {self.api_url!r}")

    # ------------------------------------------------------------------ transport
    def _url(self, path: str, query: dict[str, str] | None = None) -> str:
        url = self.api_url.rstrip("/") + path
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def _send(
        self, method: str, url: str, payload: dict[str, Any] | None
    ) -> tuple[Any, str | None]:
        """(decoded JSON, Link header) of one call; any failure is a GitHubError."""
        path = urllib.parse.urlsplit(url).path
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __post_init__
            url,
            method=method,
            data=None if payload is None else json.dumps(payload).encode(),
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "User-Agent": "gitops-delivery",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        try:
            # http(s) only: the scheme is checked when the client is made.
            with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310 # nosec B310
                raw = response.read()
                link = response.headers.get("Link")
        except urllib.error.HTTPError as error:
            raise GitHubError(
                f"GitHub API: {method} {path} failed: HTTP {error.code} {_reason(error)}"
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise GitHubError(f"GitHub API: {method} {path} failed: {reason}") from None
        try:
            return (json.loads(raw) if raw else None), link
        except ValueError:
            raise GitHubError(
                f"GitHub API: {method} {path} failed: the answer is not JSON"
            ) from None

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        return self._send(method, self._url(path), payload)[0]

    def _list(self, path: str, query: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every item of a listing, following the Link header's next pages."""
        items: list[dict[str, Any]] = []
        url: str | None = self._url(path, {**(query or {}), "per_page": str(_PAGE_SIZE)})
        origin = urllib.parse.urlsplit(self.api_url).netloc
        while url:
            # The token goes only to the API host, whatever a Link header says.
            if urllib.parse.urlsplit(url).netloc != origin:
                raise GitHubError(f"GitHub API: GET {path}: next page on another host: {url}")
            page, link = self._send("GET", url, None)
            items += page
            url = _next_page(link)
        return items

    @property
    def _repo(self) -> str:
        return f"/repos/{self.repository}"

    # ------------------------------------------------------------------ calls
    def upsert_comment(self, issue_number: int, marker: str, body: str) -> str:
        """Edit the comment holding ``marker`` on the issue or pull request, or add one.

        ``marker`` (a hidden HTML comment) is prepended to the body when missing, so the next
        run finds the comment again. Returns the comment's URL.
        """
        text = fit_body(body if marker in body else f"{marker}\n{body}")
        comments = self._list(f"{self._repo}/issues/{issue_number}/comments")
        mine = next((c for c in comments if marker in (c.get("body") or "")), None)
        if mine is None:
            created = self._call(
                "POST", f"{self._repo}/issues/{issue_number}/comments", {"body": text}
            )
            return str(created["html_url"])
        edited = self._call("PATCH", f"{self._repo}/issues/comments/{mine['id']}", {"body": text})
        return str(edited["html_url"])

    def open_issue_with_label(self, label: str) -> dict[str, Any] | None:
        """The oldest open issue carrying ``label`` (pull requests excluded), if any."""
        listed = self._list(
            f"{self._repo}/issues",
            {"state": "open", "labels": label, "sort": "created", "direction": "asc"},
        )
        issues = [item for item in listed if "pull_request" not in item]
        return issues[0] if issues else None

    def sync_issue(
        self,
        label: str,
        title: str,
        body: str | None,
        *,
        close_comment: str | None = None,
    ) -> str | None:
        """Keep exactly one open issue with ``label`` saying ``body``; close it when None.

        Returns the issue's URL, or None when there was nothing to report and nothing open.
        """
        existing = self.open_issue_with_label(label)
        if body is not None:
            payload = {"title": title, "body": fit_body(body)}
            if existing is None:
                created = self._call("POST", f"{self._repo}/issues", {**payload, "labels": [label]})
                return str(created["html_url"])
            updated = self._call("PATCH", f"{self._repo}/issues/{existing['number']}", payload)
            return str(updated["html_url"])
        if existing is None:
            return None
        today = datetime.now(UTC).date().isoformat()
        self._call(
            "POST",
            f"{self._repo}/issues/{existing['number']}/comments",
            {"body": close_comment or f"No drift detected on {today}: closing."},
        )
        closed = self._call(
            "PATCH",
            f"{self._repo}/issues/{existing['number']}",
            {"state": "closed", "state_reason": "completed"},
        )
        return str(closed["html_url"])

    def create_pull_request(self, *, head: str, base: str, title: str, body: str) -> str:
        """Open a pull request from branch ``head`` into ``base``; returns its URL."""
        created = self._call(
            "POST",
            f"{self._repo}/pulls",
            {"head": head, "base": base, "title": title, "body": fit_body(body)},
        )
        return str(created["html_url"])


def _reason(error: urllib.error.HTTPError) -> str:
    """GitHub's own explanation (the JSON "message") when it sent one."""
    try:
        message = json.loads(error.read() or b"{}").get("message")
    except (ValueError, AttributeError, OSError):
        message = None
    return f"{error.reason}: {message}" if message else str(error.reason)


def client_from_environment(environ: Mapping[str, str]) -> GitHubClient:
    """The client a workflow step describes: GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL.

    Raises GitHubConfigurationError naming every missing variable. CLI ``main`` functions pass
    os.environ.
    """
    missing = [name for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY") if not environ.get(name)]
    if missing:
        raise GitHubConfigurationError(f"missing environment variable(s): {', '.join(missing)}")
    return GitHubClient(
        token=environ["GITHUB_TOKEN"],
        repository=environ["GITHUB_REPOSITORY"],
        api_url=environ.get("GITHUB_API_URL") or DEFAULT_API_URL,
    )
