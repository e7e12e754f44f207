"""The OpenAPI document and the docs page describe what the API really does."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def openapi(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_every_endpoint_of_the_contract_is_documented(client: TestClient) -> None:
    paths = openapi(client)["paths"]
    documented = {(path, method.upper()) for path, item in paths.items() for method in item}
    assert documented == {
        ("/api/todos", "GET"),
        ("/api/todos", "POST"),
        ("/api/todos/{todo_id}", "GET"),
        ("/api/todos/{todo_id}", "PUT"),
        ("/api/todos/{todo_id}", "DELETE"),
        ("/api/activity", "GET"),
        ("/api/health", "GET"),
        ("/api/ready", "GET"),
    }


def test_errors_are_documented_as_problem_json_only(client: TestClient) -> None:
    document = openapi(client)
    for item in document["paths"].values():
        for operation in item.values():
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    assert list(response["content"]) == ["application/problem+json"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "requestId"} <= set(
        problem["required"]
    )


def test_list_documents_the_array_and_the_link_header(client: TestClient) -> None:
    listing = openapi(client)["paths"]["/api/todos"]["get"]
    ok = listing["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["type"] == "array"
    assert "Link" in ok["headers"]
    params = {param["name"]: param for param in listing["parameters"]}
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["limit"]["schema"]["maximum"] == 100
    assert params["limit"]["schema"]["default"] == 50


def test_todo_schema_is_camel_case_and_closed(client: TestClient) -> None:
    schemas = openapi(client)["components"]["schemas"]
    todo = schemas["TodoOut"]
    assert set(todo["properties"]) == {"id", "text", "completed", "createdAt", "updatedAt"}
    assert todo["additionalProperties"] is False
    assert schemas["TodoCreate"]["properties"]["text"]["maxLength"] == 500
    assert schemas["TodoUpdate"]["minProperties"] == 1


def test_docs_page_is_served(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "/api/openapi.json" in response.text


def test_the_bearer_token_is_documented_where_it_is_required(anonymous: TestClient) -> None:
    """The document itself is public; each protected operation names the scheme and its 401."""
    document = openapi(anonymous)
    assert document["components"]["securitySchemes"] == {
        "HTTPBearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "An access token from the issuer (Amazon Cognito; `make dev`: the local one)."
            ),
        }
    }
    secured = {
        (path, method): ("security" in operation, "401" in operation["responses"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    public = {("/api/health", "get"), ("/api/ready", "get")}
    assert {key for key, flags in secured.items() if flags == (True, True)} == set(secured) - public
    assert {key for key, flags in secured.items() if flags == (False, False)} == public
