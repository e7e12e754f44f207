"""A real HTTP server speaking the handful of GitHub REST endpoints the workflows use.

State lives in memory so tests assert what GitHub would hold afterwards (comments, issues,
pull requests), not which functions were called. Listings are paginated with a Link header
at a small page size, as GitHub does at 100.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "test-token"
REPOSITORY = "example-org/gitops-delivery"


@dataclass
class GitHubState:
    page_size: int = 2
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    # (method, path regex) -> (status, message): answer this instead of the real thing.
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    next_id: int = 1
    base_url: str = ""

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def add_comment(self, issue: int, body: str) -> dict[str, Any]:
        comment_id = self.new_id()
        comment = {
            "id": comment_id,
            "issue": issue,
            "body": body,
            "html_url": f"https://github.test/{REPOSITORY}/issues/{issue}#c{comment_id}",
        }
        self.comments[comment_id] = comment
        return comment

    def comments_on(self, issue: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["issue"] == issue]

    def add_issue(self, title: str, body: str, labels: list[str], *, pull: bool = False) -> int:
        number = self.new_id()
        self.issues[number] = {
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "labels": [{"name": label} for label in labels],
            "html_url": f"https://github.test/{REPOSITORY}/issues/{number}",
            **({"pull_request": {"url": "x"}} if pull else {}),
        }
        return number


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def _reply(self, status: int, payload: Any, link: str | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if link:
            self.send_header("Link", link)
        self.end_headers()
        self.wfile.write(data)

    def _page(self, items: list[dict[str, Any]], path: str, query: dict[str, list[str]]) -> None:
        state = self.server.state
        size = min(int(query.get("per_page", ["30"])[0]), state.page_size)
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * size : page * size]
        link = None
        if page * size < len(items):
            rest = "&".join(f"{k}={v[0]}" for k, v in query.items() if k != "page")
            link = f'<{state.base_url}{path}?{rest}&page={page + 1}>; rel="next"'
        self._reply(200, chunk, link)

    def _handle(self, method: str) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        state.requests.append((method, self.path, self.headers.get("Authorization")))
        for (fail_method, pattern), (status, message) in state.failures.items():
            if fail_method == method and re.fullmatch(pattern, path):
                self._reply(status, {"message": message})
                return
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"message": "Bad credentials"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        body: dict[str, Any] = json.loads(self.rfile.read(length)) if length else {}
        prefix = f"/repos/{REPOSITORY}"
        if not path.startswith(prefix + "/"):
            self._reply(404, {"message": "Not Found"})
            return
        route = path.removeprefix(prefix)
        with self.server.lock:
            self._route(method, route, path, query, body)

    def _route(
        self,
        method: str,
        route: str,
        path: str,
        query: dict[str, list[str]],
        body: dict[str, Any],
    ) -> None:
        state = self.server.state
        if match := re.fullmatch(r"/issues/(\d+)/comments", route):
            issue = int(match[1])
            if method == "GET":
                self._page(state.comments_on(issue), path, query)
            else:
                self._reply(201, state.add_comment(issue, body["body"]))
        elif match := re.fullmatch(r"/issues/comments/(\d+)", route):
            comment = state.comments[int(match[1])]
            comment["body"] = body["body"]
            self._reply(200, comment)
        elif route == "/issues" and method == "GET":
            wanted = query.get("state", ["open"])[0]
            label = query.get("labels", [None])[0]
            found = [
                issue
                for issue in sorted(state.issues.values(), key=lambda i: i["number"])
                if issue["state"] == wanted
                and (label is None or label in [lab["name"] for lab in issue["labels"]])
            ]
            self._page(found, path, query)
        elif route == "/issues" and method == "POST":
            number = state.add_issue(body["title"], body.get("body", ""), body.get("labels", []))
            self._reply(201, state.issues[number])
        elif match := re.fullmatch(r"/issues/(\d+)", route):
            edited = state.issues[int(match[1])]
            edited.update({key: value for key, value in body.items() if key != "state_reason"})
            self._reply(200, edited)
        elif route == "/pulls" and method == "POST":
            number = state.new_id()
            pull = {**body, "number": number, "html_url": f"https://github.test/pull/{number}"}
            state.pulls.append(pull)
            self._reply(201, pull)
        else:
            self._reply(404, {"message": "Not Found"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")


class _Server(ThreadingHTTPServer):
    state: GitHubState
    lock: threading.Lock


@contextmanager
def github_server() -> Iterator[GitHubState]:
    """Serve on a free loopback port until the block ends; yields the state (base_url set)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = GitHubState()
    server.lock = threading.Lock()
    server.state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
