"""API contract on the deployed site: the todo life cycle and its errors."""

from __future__ import annotations

import uuid

import pytest

from tests.support.site import Site

pytestmark = pytest.mark.contract


def test_todo_life_cycle(site: Site) -> None:
    text = f"contract check {uuid.uuid4()}"
    created = site.request("POST", "/api/todos", {"text": text})
    assert created.status == 201
    todo = created.json()
    assert created.headers["location"].endswith(f"/api/todos/{todo['id']}")
    assert (todo["text"], todo["completed"]) == (text, False)
    assert todo["createdAt"].endswith("Z")
    try:
        assert site.request("GET", f"/api/todos/{todo['id']}").json() == todo
        listed = site.request("GET", "/api/todos?limit=100")
        assert listed.status == 200
        assert todo["id"] in [item["id"] for item in listed.json()]
        updated = site.request("PUT", f"/api/todos/{todo['id']}", {"completed": True})
        assert updated.status == 200
        assert updated.json()["completed"] is True
    finally:
        assert site.request("DELETE", f"/api/todos/{todo['id']}").status == 204
    assert site.request("GET", f"/api/todos/{todo['id']}").status == 404


def test_invalid_todo_is_a_problem_naming_the_field(site: Site) -> None:
    response = site.request("POST", "/api/todos", {"text": "   "})
    assert response.status == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"].startswith("text: ")
    assert body["requestId"] == response.headers["x-request-id"]


def test_unknown_todo_is_404(site: Site) -> None:
    assert site.request("GET", f"/api/todos/{uuid.uuid4()}").status == 404


def test_openapi_document_describes_the_todo_api(site: Site) -> None:
    document = site.request("GET", "/api/openapi.json").json()
    assert {"/api/todos", "/api/todos/{todo_id}", "/api/health"} <= set(document["paths"])
