"""The served OpenAPI is one a client (and Swagger's Authorize) can rely on: the bearer
scheme on every route that needs a token, each route's permission and tenant rule as the
route enforces them, and only the error statuses a route can answer.

The pages and reads used here need no started runtime (the in-memory store answers
reads without one). The fuzz tests (tests/fuzz) check the other direction: no route
answers a status it does not document."""

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from crm import cli
from crm.bootstrap import bootstrap
from crm.runtime import Runtime
from crm.web import facade_context
from http_facade.app import create_app
from tests.conftest import embedded_settings
from tests.helpers import TEST_SECRET, make_token

PERMISSIONS = ("customers.read", "customers.write", "customers.pii", "crm.read", "crm.write")
PUBLIC = {
    ("get", "/api/v1/crm/health"),
    ("get", "/ready"),
    ("get", "/asyncapi.json"),
    ("get", "/asyncapi.yaml"),
}
NEEDED = re.compile(r"\*\*Permission:\*\* (.+?) \(")


def idle_app(**settings: Any) -> FastAPI:
    return create_app(facade_context(Runtime(bootstrap(embedded_settings(**settings)))))


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return idle_app()


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]


def documented_permissions(operation: dict[str, Any]) -> set[str]:
    match = NEEDED.search(operation.get("description", ""))
    assert match, operation.get("description")
    return set(re.findall(r"`([a-z.]+)`", match.group(1)))


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_every_route_that_needs_a_token_has_the_bearer_scheme(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"] == {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
        }
    }
    assert "crm token" in spec["components"]["securitySchemes"]["bearerAuth"]["description"]
    for method, path, operation in operations(spec):
        if (method, path) in PUBLIC:
            assert "security" not in operation, path
            assert "401" not in operation["responses"], path
        else:
            assert operation["security"] == [{"bearerAuth": []}], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


@pytest.mark.usefixtures("restore_logging")  # the CLI configures logging
async def test_a_token_from_crm_token_is_what_authorize_sends(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Swagger's Authorize sends `Authorization: Bearer <what was pasted>`."""
    monkeypatch.setenv("CRM_JWT_SECRET", TEST_SECRET)
    cli.main(["token", "--sub", "u1", "--tenant", "t1", "--perm", "crm.read,customers.read"])
    token = capsys.readouterr().out.strip()
    response = await http.get("/api/v1/crm/customers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


async def test_each_route_needs_the_permission_its_description_names(
    http: httpx.AsyncClient, spec: dict[str, Any]
) -> None:
    """With every permission but the documented ones: 403. With only the documented ones
    (reads): not refused."""
    for method, path, operation in operations(spec):
        if (method, path) in PUBLIC:
            continue
        needed = documented_permissions(operation)
        assert needed <= set(PERMISSIONS), (path, needed)
        others = [p for p in PERMISSIONS if p not in needed]
        headers = {"Authorization": f"Bearer {make_token(others)}", "X-Request-ID": "r1"}
        refused = await http.request(method, concrete(path), headers=headers, json={})
        assert refused.status_code == 403, (method, path, refused.text)
        if method == "get":
            headers = {"Authorization": f"Bearer {make_token(sorted(needed))}"}
            allowed = await http.get(concrete(path), headers=headers)
            assert allowed.status_code not in (401, 403), (path, allowed.text)


def test_each_route_states_the_tenant_rule(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        if (method, path) not in PUBLIC:
            assert "`X-Tenant-Id`" in operation["description"], path


def statuses(spec: dict[str, Any], method: str, path: str) -> set[int]:
    return {int(status) for status in spec["paths"][path][method]["responses"]}


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/api/v1/crm/customers", {200, 400, 401, 403}),
        ("get", "/api/v1/crm/customers/{customer_id}", {200, 400, 401, 403, 404}),
        ("post", "/api/v1/crm/customers", {201, 202, 400, 401, 403, 409, 413, 415}),
        ("post", "/api/v1/crm/contacts", {201, 202, 400, 401, 403, 404, 409, 413, 415}),
        ("delete", "/api/v1/crm/contacts/{contact_id}", {200, 202, 400, 401, 403, 404, 409}),
        ("get", "/api/v1/crm/reports/funnel", {200, 400, 401, 403}),
        ("get", "/api/v1/crm/commands/{commandId}", {200, 400, 401, 403, 404}),
        ("get", "/api/v1/api/customers/{id}", {200, 400, 401, 403, 404}),
        ("post", "/api/v1/api/customers", {201, 202, 400, 401, 403, 409, 413, 415}),
        ("get", "/api/v1/crm/health", {200, 400, 503}),
    ],
)
def test_a_route_documents_the_statuses_it_can_answer(
    spec: dict[str, Any], method: str, path: str, expected: set[int]
) -> None:
    assert statuses(spec, method, path) == expected


def test_reads_document_no_write_statuses(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        if method == "get":
            assert not {"202", "409", "413", "429"} & set(operation["responses"]), path


def test_429_is_documented_where_the_rate_limit_is_on() -> None:
    limited = idle_app(rate_limit_per_s=5.0).openapi()
    for method, path, operation in operations(limited):
        assert ("429" in operation["responses"]) == ((method, path) not in PUBLIC), path
    assert "429" in limited["paths"]["/api/v1/crm/customers"]["get"]["responses"]
