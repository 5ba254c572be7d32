"""Body size (413) and per-tenant rate (429) limits, in each API family's envelope."""

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from crm.runtime import Runtime
from crm.web import facade_context
from http_facade.app import create_app
from tests.helpers import auth


@pytest.fixture
async def limited(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    context = dataclasses.replace(
        facade_context(runtime), max_body_bytes=2048, rate_limit_per_s=0.5, rate_limit_burst=3
    )
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_oversized_body_is_413_in_each_envelope(limited: httpx.AsyncClient) -> None:
    big = {"name": "x", "remark": "y" * 5000}
    api_a = await limited.post("/api/v1/api/customers", json=big, headers=auth())
    assert api_a.status_code == 413
    assert api_a.json() == {
        "success": False,
        "error": {"message": "request body larger than 2048 bytes", "code": "PAYLOAD_TOO_LARGE"},
    }
    api_b = await limited.post("/api/v1/crm/customers", json=big, headers=auth(request_id="r-413"))
    assert api_b.status_code == 413
    assert api_b.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert api_b.json()["requestId"] == "r-413"
    assert api_b.headers["x-request-id"] == "r-413"


async def test_streamed_oversized_body_without_length_is_413(limited: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "x", "remark": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    headers = {**auth(request_id="r-stream"), "Content-Type": "application/json"}
    response = await limited.post("/api/v1/crm/customers", content=chunks(), headers=headers)
    assert response.status_code == 413


async def test_rate_limit_is_per_tenant_with_retry_after(limited: httpx.AsyncClient) -> None:
    url = "/api/v1/crm/customers"
    statuses = [(await limited.get(url, headers=auth(tenant="busy"))).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    limited_response = await limited.get(url, headers=auth(tenant="busy"))
    assert limited_response.json()["code"] == "RATE_LIMITED"
    assert int(limited_response.headers["retry-after"]) >= 1
    other_tenant = await limited.get(url, headers=auth(tenant="quiet"))
    assert other_tenant.status_code == 200


async def test_limits_are_off_by_default(client: httpx.AsyncClient) -> None:
    for _ in range(60):
        assert (await client.get("/api/v1/crm/customers", headers=auth())).status_code == 200
