"""The API's deployed behaviour, as checks that raise :class:`CheckFailedError` with what differs.

Plain functions rather than pytest tests so the blue/green hook can run them in Lambda, where
there is no pytest; tests/deployed wraps each one in a test of its marker. They create only
their own todos and delete them again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .site import Site


class CheckFailedError(Exception):
    """A deployed behaviour differs from the contract."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailedError(message)


def expect_equal(actual: Any, expected: Any, what: str) -> None:
    expect(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


# ------------------------------------------------------------------ smoke
def api_is_alive(site: Site) -> None:
    response = site.request("GET", "/api/health")
    expect_equal(response.status, 200, "GET /api/health status")
    expect(bool(response.headers.get("x-request-id")), "GET /api/health has no x-request-id")


def api_reaches_its_database(site: Site) -> None:
    expect_equal(site.request("GET", "/api/ready").status, 200, "GET /api/ready status")


# ------------------------------------------------------------------ contract
def todo_life_cycle(site: Site) -> None:
    text = f"contract check {uuid.uuid4()}"
    created = site.request("POST", "/api/todos", {"text": text})
    expect_equal(created.status, 201, "POST /api/todos status")
    todo = created.json()
    path = f"/api/todos/{todo['id']}"
    expect(
        created.headers.get("location", "").endswith(path),
        f"POST /api/todos location {created.headers.get('location')!r} does not end in {path}",
    )
    expect_equal((todo["text"], todo["completed"]), (text, False), "the created todo")
    expect(todo["createdAt"].endswith("Z"), f"createdAt {todo['createdAt']!r} is not UTC")
    try:
        expect_equal(site.request("GET", path).json(), todo, f"GET {path}")
        listed = site.request("GET", "/api/todos?limit=100")
        expect_equal(listed.status, 200, "GET /api/todos status")
        expect(
            todo["id"] in [item["id"] for item in listed.json()],
            "GET /api/todos does not list the created todo",
        )
        updated = site.request("PUT", path, {"completed": True})
        expect_equal(updated.status, 200, f"PUT {path} status")
        expect_equal(updated.json()["completed"], True, f"PUT {path} completed")
    finally:
        expect_equal(site.request("DELETE", path).status, 204, f"DELETE {path} status")
    expect_equal(site.request("GET", path).status, 404, f"GET {path} after its deletion")


def invalid_todo_is_a_problem_naming_the_field(site: Site) -> None:
    response = site.request("POST", "/api/todos", {"text": "   "})
    expect_equal(response.status, 422, "POST /api/todos with blank text status")
    expect_equal(
        response.headers.get("content-type"), "application/problem+json", "its content type"
    )
    body = response.json()
    expect(body["detail"].startswith("text: "), f"its detail {body['detail']!r} names no field")
    expect_equal(body["requestId"], response.headers.get("x-request-id"), "its requestId")


def unknown_todo_is_404(site: Site) -> None:
    path = f"/api/todos/{uuid.uuid4()}"
    expect_equal(site.request("GET", path).status, 404, f"GET {path} status")


def openapi_document_describes_the_todo_api(site: Site) -> None:
    paths = set(site.request("GET", "/api/openapi.json").json()["paths"])
    missing = {"/api/todos", "/api/todos/{todo_id}", "/api/health"} - paths
    expect(not missing, f"the OpenAPI document lacks {sorted(missing)}")


Check = Callable[[Site], None]
SMOKE: tuple[Check, ...] = (api_is_alive, api_reaches_its_database)
CONTRACT: tuple[Check, ...] = (
    todo_life_cycle,
    invalid_todo_is_a_problem_naming_the_field,
    unknown_todo_is_404,
    openapi_document_describes_the_todo_api,
)


@dataclass(frozen=True)
class Outcome:
    check: str
    passed: bool
    seconds: float
    # What differed, or the error that stopped the check (an unreachable site, bad JSON).
    detail: str = ""


def run(site: Site, checks: Sequence[Check]) -> list[Outcome]:
    """Every check, each to its end: one failure does not hide the next."""
    outcomes = []
    for check in checks:
        started = time.monotonic()
        try:
            check(site)
        except CheckFailedError as failure:
            outcomes.append(_outcome(check, started, passed=False, detail=str(failure)))
        # Any error (an unreachable site, a body that is not JSON) fails the check, not the run.
        except Exception as error:
            detail = f"{type(error).__name__}: {error}"
            outcomes.append(_outcome(check, started, passed=False, detail=detail))
        else:
            outcomes.append(_outcome(check, started, passed=True))
    return outcomes


def _outcome(check: Check, started: float, *, passed: bool, detail: str = "") -> Outcome:
    seconds = round(time.monotonic() - started, 3)
    return Outcome(check=check.__name__, passed=passed, seconds=seconds, detail=detail)
