"""Integration on the deployed site: a completion travels API -> outbox -> SQS -> worker -> API."""

from __future__ import annotations

import time
import uuid

import pytest

from infra.services.deployment_hook.runtime.deployed_checks.site import Site

pytestmark = pytest.mark.integration

ACTIVITY_TIMEOUT_SECONDS = 90


def test_completing_a_todo_shows_up_in_the_activity_feed(signed_in_site: Site) -> None:
    site = signed_in_site
    todo = site.request("POST", "/api/todos", {"text": f"integration {uuid.uuid4()}"}).json()
    try:
        assert site.request("PUT", f"/api/todos/{todo['id']}", {"completed": True}).status == 200
        deadline = time.monotonic() + ACTIVITY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            activity = site.request("GET", "/api/activity?limit=100").json()
            if any(
                item["todoId"] == todo["id"] and item["type"] == "todo.completed"
                for item in activity
            ):
                return
            time.sleep(2)
        pytest.fail(
            f"no todo.completed activity for {todo['id']} within {ACTIVITY_TIMEOUT_SECONDS}s"
        )
    finally:
        site.request("DELETE", f"/api/todos/{todo['id']}")
