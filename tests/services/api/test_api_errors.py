"""Bad input: a clear 4xx problem+json naming the field, never a 500, nothing written."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.support.databases import Database
from tests.support.problems import assert_problem
from todo_api.middleware import BodySizeLimitMiddleware


@pytest.fixture
def todo_id(client: TestClient) -> str:
    response = client.post("/api/todos", json={"text": "existing"})
    assert response.status_code == 201
    return str(response.json()["id"])


# ------------------------------------------------------------------ bodies
BAD_CREATE_BODIES = [
    pytest.param({}, "text", "is required", id="missing-text"),
    pytest.param({"text": ""}, "text", "must not be blank", id="empty"),
    pytest.param({"text": " \t\n "}, "text", "must not be blank", id="whitespace"),
    pytest.param({"text": "x" * 501}, "text", "must be at most 500 characters", id="501-chars"),
    pytest.param({"text": 42}, "text", "must be a string", id="number"),
    pytest.param({"text": None}, "text", "must be a string", id="null"),
    pytest.param({"text": ["a"]}, "text", "must be a string", id="array"),
    pytest.param({"text": "a\x00b"}, "text", "must not contain control characters", id="nul"),
    pytest.param(
        {"text": "ok", "completed": True},
        "completed",
        "is not an allowed field",
        id="unknown-completed",
    ),
    pytest.param({"text": "ok", "id": "x"}, "id", "is not an allowed field", id="unknown-id"),
    pytest.param([{"text": "ok"}], "body", "must be a JSON object", id="array-body"),
    pytest.param("text", "body", "must be a JSON object", id="string-body"),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD_CREATE_BODIES)
def test_bad_create_bodies_are_422_naming_the_field(
    client: TestClient, db: Database, body: object, field: str, message: str
) -> None:
    problem = assert_problem(
        client.post("/api/todos", json=body), 422, field=field, instance="/api/todos"
    )
    assert problem["type"] == "urn:todo:problem:validation-error"
    assert problem["errors"] == [{"field": field, "message": message}]
    assert db.count() == 0


def test_several_bad_fields_are_all_named(client: TestClient) -> None:
    problem = assert_problem(client.post("/api/todos", json={"text": 1, "extra": 2}), 422)
    assert {error["field"] for error in problem["errors"]} == {"text", "extra"}
    assert "text: must be a string" in problem["detail"]
    assert "extra: is not an allowed field" in problem["detail"]


def test_lone_surrogate_text_is_refused_not_a_500(client: TestClient, db: Database) -> None:
    response = client.post(
        "/api/todos", content=b'{"text": "\\ud800"}', headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, 422, field="text")
    assert problem["errors"][0]["message"] == "must be valid Unicode text"
    assert db.count() == 0


@pytest.mark.parametrize(
    "raw", [b"{", b'{"text": "unterminated}', b"not json", b"{'text': 'single quotes'}"]
)
def test_malformed_json_is_400(client: TestClient, db: Database, raw: bytes) -> None:
    response = client.post("/api/todos", content=raw, headers={"content-type": "application/json"})
    problem = assert_problem(response, 400, field="body")
    assert problem["type"] == "urn:todo:problem:malformed-json"
    assert db.count() == 0


def test_empty_body_is_422(client: TestClient) -> None:
    response = client.post("/api/todos", content=b"", headers={"content-type": "application/json"})
    assert_problem(response, 422, field="body")


BAD_UPDATE_BODIES = [
    pytest.param({}, "body", id="empty-object"),
    pytest.param({"completed": "true"}, "completed", id="string-bool"),
    pytest.param({"completed": 1}, "completed", id="int-bool"),
    pytest.param({"completed": None}, "completed", id="null-bool"),
    pytest.param({"text": None}, "text", id="null-text"),
    pytest.param({"text": "   "}, "text", id="blank-text"),
    pytest.param({"text": "y" * 501}, "text", id="long-text"),
    pytest.param({"done": True}, "done", id="unknown-field"),
]


@pytest.mark.parametrize(("body", "field"), BAD_UPDATE_BODIES)
def test_bad_update_bodies_are_422_and_change_nothing(
    client: TestClient, todo_id: str, body: object, field: str
) -> None:
    before = client.get(f"/api/todos/{todo_id}").json()
    assert_problem(client.put(f"/api/todos/{todo_id}", json=body), 422, field=field)
    assert client.get(f"/api/todos/{todo_id}").json() == before


def test_a_partly_valid_update_writes_nothing(client: TestClient, todo_id: str) -> None:
    before = client.get(f"/api/todos/{todo_id}").json()
    response = client.put(f"/api/todos/{todo_id}", json={"completed": True, "text": ""})
    assert_problem(response, 422, field="text")
    assert client.get(f"/api/todos/{todo_id}").json() == before


# --------------------------------------------------------------------- ids
UNKNOWN_IDS = [
    "00000000-0000-4000-8000-000000000000",
    "not-a-uuid",
    "12345",
    "00000000-0000-4000-8000-00000000000g",
    "%F0%9F%92%A9",
    "x" * 300,
]


@pytest.mark.parametrize("raw_id", UNKNOWN_IDS)
def test_unknown_or_malformed_ids_are_404_everywhere(
    client: TestClient, db: Database, raw_id: str
) -> None:
    url = f"/api/todos/{raw_id}"
    for response in (
        client.get(url),
        client.put(url, json={"completed": True}),
        client.delete(url),
    ):
        problem = assert_problem(response, 404)
        assert problem["type"] == "urn:todo:problem:not-found"
        assert problem["detail"].startswith("id: ")
    assert db.count() == 0


# ---------------------------------------------------------- query parameters
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "must be at least 1"),
        ("limit=101", "must be at most 100"),
        ("limit=-5", "must be at least 1"),
        ("limit=ten", "must be an integer"),
        ("limit=1.5", "must be an integer"),
    ],
)
def test_bad_limit_is_422(client: TestClient, query: str, message: str) -> None:
    problem = assert_problem(client.get(f"/api/todos?{query}"), 422, field="limit")
    assert problem["errors"][0]["message"] == message


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "AAAA",
        "MTIz",  # base64 of "123": no id part
        "OTk5OTk5OTk5OTk5OTk5LjAwMDAwMDAwMDAwMDQwMDA4MDAwMDAwMDAwMDAwMDAw",  # year > 9999
        "",
    ],
)
def test_malformed_cursor_is_400(client: TestClient, cursor: str) -> None:
    problem = assert_problem(client.get(f"/api/todos?cursor={cursor}"), 400, field="cursor")
    assert problem["type"] == "urn:todo:problem:invalid-cursor"


def test_overlong_cursor_is_refused(client: TestClient) -> None:
    response = client.get("/api/todos?cursor=" + "A" * 101)
    assert response.status_code in {400, 422}
    assert_problem(response, response.status_code, field="cursor")


# ------------------------------------------------- methods, sizes and types
@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("PATCH", "/api/todos", "GET, POST"),
        ("DELETE", "/api/todos", "GET, POST"),
        ("POST", "/api/todos/00000000-0000-4000-8000-000000000000", "GET, PUT, DELETE"),
        ("POST", "/api/health", "GET"),
        ("OPTIONS", "/api/todos", "GET, POST"),
    ],
)
def test_wrong_method_is_405_with_allow(
    client: TestClient, method: str, url: str, allowed: str
) -> None:
    response = client.request(method, url, json={"text": "x"})
    assert_problem(response, 405)
    assert set(response.headers["allow"].split(", ")) == set(allowed.split(", "))


def test_unknown_path_is_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/api/nothing-here"), 404, instance="/api/nothing-here")


def test_body_over_64_kib_is_413_before_parsing(client: TestClient, db: Database) -> None:
    # Not even JSON: the limit is applied before anything parses the body.
    response = client.post(
        "/api/todos", content=b"{" * (64 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)
    assert db.count() == 0


def test_chunked_body_over_64_kib_is_413(client: TestClient, db: Database) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"text": "'
        for _ in range(70):
            yield b"a" * 1024
        yield b'"}'

    response = client.post(
        "/api/todos", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)
    assert db.count() == 0


def test_a_body_of_exactly_64_kib_is_parsed(client: TestClient) -> None:
    body = b'{"text": "fits"}'
    body += b" " * (64 * 1024 - len(body))
    response = client.post("/api/todos", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/xml",
    ],
)
def test_unsupported_content_type_is_415(
    client: TestClient, db: Database, todo_id: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    body = b'{"text": "valid JSON, wrong label"}'
    assert_problem(client.post("/api/todos", content=body, headers=headers), 415)
    assert_problem(client.put(f"/api/todos/{todo_id}", content=body, headers=headers), 415)
    assert db.count() == 1


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
def test_json_media_types_with_parameters_or_suffix_are_accepted(
    client: TestClient, content_type: str
) -> None:
    response = client.post(
        "/api/todos", content=b'{"text": "ok"}', headers={"content-type": content_type}
    )
    assert response.status_code == 201


# ------------------------------------------------------------- server errors
def test_an_unexpected_error_is_a_500_problem_with_the_request_id(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/boom", headers={"X-Request-ID": "req-500"})

    problem = assert_problem(response, 500, instance="/api/boom")
    assert problem["requestId"] == "req-500"
    assert "secret internals" not in response.text
    logged = [r for r in caplog.records if r.name == "todo_api.errors"]
    assert logged
    assert logged[0].exc_info is not None


def _through_a_6_byte_limit(
    app: ASGIApp, headers: list[tuple[bytes, bytes]], receive: Receive, send: Send
) -> None:
    """One POST through the body limit (6 bytes) in front of ``app``."""
    scope = {"type": "http", "method": "POST", "path": "/api/todos", "headers": headers}
    asyncio.run(BodySizeLimitMiddleware(app, max_bytes=6)(scope, receive, send))


@pytest.mark.parametrize(
    ("headers", "handed_on"),
    [
        # A declared length ends the body where it says: passed on as it comes, unread.
        ([(b"content-length", b"6")], [b"abc", b"def"]),
        # A chunked body is read to its end (within the limit) and handed on whole.
        ([(b"transfer-encoding", b"chunked")], [b"abcdef"]),
    ],
)
def test_a_body_within_the_limit_reaches_the_app_whole(
    headers: list[tuple[bytes, bytes]], handed_on: list[bytes]
) -> None:
    sent = iter([b"abc", b"def"])
    seen: list[bytes] = []

    async def receive() -> Message:
        chunk = next(sent)
        return {"type": "http.request", "body": chunk, "more_body": chunk != b"def"}

    async def app(_scope: Scope, inner_receive: Receive, _send: Send) -> None:
        while True:
            message = await inner_receive()
            seen.append(message["body"])
            if not message["more_body"]:
                return

    async def send(_message: Message) -> None:
        raise AssertionError("nothing is answered for the app")

    _through_a_6_byte_limit(app, headers, receive, send)

    assert seen == handed_on


@pytest.mark.parametrize("length", [b"7", "²".encode("latin-1")])
def test_a_declared_length_over_the_limit_is_refused_unread(length: bytes) -> None:
    # "²" is a digit to str.isdigit, not a number to int: read ahead as a body of unknown
    # length (and refused once it passes the limit), never a 500.
    body = iter([b"abcdefg"])
    sent: list[Message] = []

    async def receive() -> Message:
        if length == b"7":
            raise AssertionError("a body declared over the limit is not read")
        return {"type": "http.request", "body": next(body), "more_body": False}

    async def app(_scope: Scope, _receive: Receive, _send: Send) -> None:
        raise AssertionError("the app never sees it")

    async def send(message: Message) -> None:
        sent.append(message)

    _through_a_6_byte_limit(app, [(b"content-length", length)], receive, send)

    assert sent[0]["status"] == 413
