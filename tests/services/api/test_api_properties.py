"""Property-based run: schemathesis generates requests from the app's own
OpenAPI document (valid ones and deliberately invalid ones) and checks every
response: no 5xx, a documented status and content type, a body that matches
the documented schema, invalid input rejected.

Bounded and derandomized (fixed examples per operation and mode) so the run
is quick and repeatable; raise ``TODO_PROPERTY_EXAMPLES`` for a deeper search.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

EXAMPLES = int(os.environ.get("TODO_PROPERTY_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
CASES = [
    *(
        pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
        for method, path in [
            ("GET", "/api/todos"),
            ("POST", "/api/todos"),
            ("GET", "/api/todos/{todo_id}"),
            ("PUT", "/api/todos/{todo_id}"),
            ("DELETE", "/api/todos/{todo_id}"),
        ]
        for mode in (POSITIVE, NEGATIVE)
    ),
    # No input to get wrong: positive only.
    pytest.param("GET", "/api/health", POSITIVE, id="GET /api/health positive"),
    pytest.param("GET", "/api/ready", POSITIVE, id="GET /api/ready positive"),
]


@pytest.fixture
def api_schema(app: FastAPI) -> Iterator[OpenApiSchema]:
    yield schemathesis.openapi.from_asgi("/api/openapi.json", app)


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_generated_requests_get_conforming_responses(
    app: FastAPI, api_schema: OpenApiSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    checks = [*CHECKS, negative_data_rejection] if mode is NEGATIVE else CHECKS

    # schemathesis types ASGI apps with plain dicts; FastAPI's are Mappings.
    with asgi.get_client(cast(Any, app)) as session:
        # Some todos exist, so generated ids sometimes hit and lists have pages.
        for i in range(3):
            session.post("http://localhost/api/todos", json={"text": f"seed {i}"})

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Case[Any]) -> None:
            response = case.call(session=session)
            case.validate_response(response, checks=checks)

        run()


# Any Unicode, lone surrogates and control characters included, around the
# length limit: what the text field must survive on both databases.
ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=()), min_size=0, max_size=510
) | st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "x" * 500, "x" * 501, " x" * 250])


@settings(
    max_examples=int(os.environ.get("TODO_PROPERTY_EXAMPLES", "120")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(text=ANY_TEXT, completed=st.booleans())
def test_any_text_is_stored_exactly_or_refused_cleanly(
    client: TestClient, text: str, completed: bool
) -> None:
    payload = json.dumps({"text": text}).encode()  # \\u escapes survive surrogates
    headers = {"content-type": "application/json"}
    before = client.get("/api/todos?limit=100").json()

    created = client.post("/api/todos", content=payload, headers=headers)

    assert created.status_code in {201, 422}, created.text
    if created.status_code == 422:
        assert created.json()["errors"][0]["field"] == "text"
        assert client.get("/api/todos?limit=100").json() == before
        return
    todo = created.json()
    assert todo["text"] == text.strip()
    assert 1 <= len(todo["text"]) <= 500
    assert client.get(f"/api/todos/{todo['id']}").json() == todo
    update = json.dumps({"text": text, "completed": completed}).encode()
    updated = client.put(f"/api/todos/{todo['id']}", content=update, headers=headers)
    assert updated.status_code == 200
    assert updated.json()["text"] == todo["text"]
    assert updated.json()["completed"] is completed
