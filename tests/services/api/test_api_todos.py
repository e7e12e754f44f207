"""Contract: every endpoint's success path, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.support.databases import Database, make_database
from tests.support.issuer import USER, Issuer
from todo_api.app import create_app
from todo_api.middleware import new_request_id
from todo_common.models import NewTodo
from todo_common.uow import UnitOfWorkFactory

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
NEXT = re.compile(
    r'^<(?P<url>/api/todos\?limit=(?P<limit>\d+)&cursor=[A-Za-z0-9_-]+)>; rel="next"$'
)


def create(client: TestClient, text: str) -> dict[str, object]:
    response = client.post("/api/todos", json={"text": text})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_create_returns_the_todo_with_location(client: TestClient, db: Database) -> None:
    before = datetime.now(tz=UTC)
    response = client.post("/api/todos", json={"text": "  Buy milk \n"})

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    todo = response.json()
    assert set(todo) == {"id", "text", "completed", "createdAt", "updatedAt"}
    assert str(uuid.UUID(todo["id"])) == todo["id"]
    assert todo["text"] == "Buy milk"  # surrounding whitespace trimmed
    assert todo["completed"] is False
    assert STAMP.match(todo["createdAt"])
    assert todo["updatedAt"] == todo["createdAt"]
    created = datetime.fromisoformat(todo["createdAt"])
    assert abs((created - before).total_seconds()) < 5
    assert response.headers["location"] == f"/api/todos/{todo['id']}"
    assert db.count() == 1


def test_get_returns_what_create_stored(client: TestClient) -> None:
    todo = create(client, "Write tests ✓ 日本語")

    response = client.get(f"/api/todos/{todo['id']}")

    assert response.status_code == 200
    assert response.json() == todo


def test_text_of_exactly_500_characters_is_accepted(client: TestClient) -> None:
    text = "x" * 500
    assert create(client, text)["text"] == text


def test_put_updates_the_given_fields_only(client: TestClient) -> None:
    todo = create(client, "first")
    time.sleep(0.005)  # updatedAt has millisecond resolution

    done = client.put(f"/api/todos/{todo['id']}", json={"completed": True})
    assert done.status_code == 200
    assert done.json()["completed"] is True
    assert done.json()["text"] == "first"
    assert done.json()["createdAt"] == todo["createdAt"]
    assert str(done.json()["updatedAt"]) > str(todo["updatedAt"])

    renamed = client.put(f"/api/todos/{todo['id']}", json={"text": "second"})
    assert renamed.status_code == 200
    assert renamed.json()["text"] == "second"
    assert renamed.json()["completed"] is True

    both = client.put(f"/api/todos/{todo['id']}", json={"text": "third", "completed": False})
    assert both.json()["text"] == "third"
    assert both.json()["completed"] is False
    assert client.get(f"/api/todos/{todo['id']}").json() == both.json()


def test_delete_removes_and_a_second_delete_is_404(client: TestClient, db: Database) -> None:
    todo = create(client, "short-lived")
    keep = create(client, "stays")

    response = client.delete(f"/api/todos/{todo['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/api/todos/{todo['id']}").status_code == 404
    assert client.delete(f"/api/todos/{todo['id']}").status_code == 404
    assert db.count() == 1
    assert client.get(f"/api/todos/{keep['id']}").status_code == 200


def test_list_is_newest_first_with_default_limit_50(client: TestClient) -> None:
    assert client.get("/api/todos").json() == []
    created = [create(client, f"todo {i}") for i in range(55)]

    response = client.get("/api/todos")

    assert response.status_code == 200
    page = response.json()
    assert isinstance(page, list)
    assert len(page) == 50
    expected = sorted(created, key=lambda t: (str(t["createdAt"]), str(t["id"])), reverse=True)
    assert [t["id"] for t in page] == [t["id"] for t in expected[:50]]
    link = NEXT.match(response.headers["link"])
    assert link is not None
    assert link["limit"] == "50"


def test_pages_follow_the_link_header_to_the_end(client: TestClient) -> None:
    created = {str(create(client, f"todo {i}")["id"]) for i in range(7)}
    seen: list[str] = []
    url: str | None = "/api/todos?limit=3"
    pages = 0
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200
        seen += [todo["id"] for todo in response.json()]
        pages += 1
        link = response.headers.get("link")
        url = None if link is None else NEXT.match(link)["url"]  # type: ignore[index]

    assert pages == 3  # 3 + 3 + 1, and no Link header on the last page
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == created


def test_pagination_is_stable_when_todos_share_a_timestamp(
    client: TestClient, db: Database
) -> None:
    # Same millisecond for all: the id breaks the tie, nothing is skipped or repeated.
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    ids = {uuid.uuid4() for _ in range(9)}
    with UnitOfWorkFactory(db.engine)(write=True) as uow:
        for key in ids:
            uow.todos.add(
                NewTodo(id=key, text="tie", created_at=stamp, updated_at=stamp, owner_id=USER)
            )
        uow.commit()

    seen: list[str] = []
    url: str | None = "/api/todos?limit=4"
    while url is not None:
        response = client.get(url)
        seen += [todo["id"] for todo in response.json()]
        link = response.headers.get("link")
        url = None if link is None else NEXT.match(link)["url"]  # type: ignore[index]

    assert seen == sorted((str(key) for key in ids), key=uuid.UUID, reverse=True)


def test_a_page_is_not_disturbed_by_a_newer_todo(client: TestClient) -> None:
    for i in range(4):
        create(client, f"old {i}")
    first = client.get("/api/todos?limit=2")
    create(client, "newer, created between pages")

    second = client.get(NEXT.match(first.headers["link"])["url"])  # type: ignore[index]

    texts = [t["text"] for t in first.json() + second.json()]
    assert texts == ["old 3", "old 2", "old 1", "old 0"]


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_accepted(client: TestClient, limit: int) -> None:
    for i in range(3):
        create(client, str(i))
    response = client.get(f"/api/todos?limit={limit}")
    assert response.status_code == 200
    assert len(response.json()) == min(limit, 3)
    assert ("link" in response.headers) is (limit < 3)


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    generated = client.get("/api/todos").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    echoed = client.get("/api/todos", headers={"X-Request-ID": "trace-abc.123"})
    assert echoed.headers["x-request-id"] == "trace-abc.123"
    # A header that would be unsafe in logs is replaced, not echoed.
    replaced = client.get("/api/todos", headers={"X-Request-ID": "x" * 200})
    assert replaced.headers["x-request-id"] != "x" * 200


def test_a_forked_process_does_not_repeat_its_parents_request_ids() -> None:
    """A pre-forking server's workers each draw their own ids."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.write(writer, new_request_id().encode())
        os._exit(0)
    os.close(writer)
    parents = new_request_id()
    os.waitpid(child, 0)
    with os.fdopen(reader) as pipe:
        childs = pipe.read()
    assert re.fullmatch(r"[0-9a-f]{32}", childs)
    assert childs != parents


def _sessions_in_kolkata(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _set_time_zone(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET TIME ZONE 'Asia/Kolkata'")
        cursor.close()
        dbapi_connection.commit()  # the pool hands out connections outside a transaction


@pytest.mark.postgres
def test_timestamps_show_in_utc_whatever_the_database_session_s_time_zone(
    request: pytest.FixtureRequest, tmp_path: Path, issuer: Issuer
) -> None:
    # PostgreSQL's timestamps are read as psycopg gives them, in the session's time zone; what
    # the API shows is UTC all the same, and a cursor names the same instant.
    db = make_database("postgres", tmp_path, request)
    app = create_app(db.settings, db.engine)
    for engine in (db.engine, app.state.database.loop_engine.sync_engine):
        _sessions_in_kolkata(engine)
    db.engine.dispose()  # the connection that emptied the tables is in the server's zone

    with TestClient(app, headers=issuer.headers(USER)) as client:
        first, second = create(client, "Buy milk"), create(client, "Walk the dog")
        page = client.get("/api/todos", params={"limit": 1})
        rest = client.get(NEXT.fullmatch(page.headers["Link"])["url"])  # type: ignore[index]
        done = client.put(f"/api/todos/{first['id']}", json={"completed": True}).json()
        one = client.get(f"/api/todos/{first['id']}").json()
    with UnitOfWorkFactory(db.engine)() as uow:
        stored = uow.todos.list_page(1, owner=USER)[0].created_at
    db.engine.dispose()

    assert stored.utcoffset() == timedelta(hours=5, minutes=30)
    assert (page.json(), rest.json()) == ([second], [first])
    assert one == done == {**first, "completed": True, "updatedAt": done["updatedAt"]}
    assert STAMP.match(done["updatedAt"]) and done["updatedAt"] >= first["createdAt"]
