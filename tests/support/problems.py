"""The problem+json shape every API error has (what the web UI relies on)."""

from __future__ import annotations

from typing import Any

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "requestId"}


def assert_problem(
    response: Any, status: int, *, field: str | None = None, instance: str | None = None
) -> dict[str, Any]:
    """The shape the web UI relies on, with the request id matching the header."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert PROBLEM_KEYS <= set(body) <= PROBLEM_KEYS | {"errors"}
    assert body["status"] == status
    assert body["requestId"] == response.headers["x-request-id"]
    assert body["requestId"]
    assert isinstance(body["title"], str)
    assert body["title"]
    if instance is not None:
        assert body["instance"] == instance
    if field is not None:
        assert [error["field"] for error in body["errors"]] == [field]
        assert body["detail"].startswith(f"{field}: ")
        assert body["detail"] == f"{field}: {body['errors'][0]['message']}"
    return body
