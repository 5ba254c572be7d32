"""The command-status resource a 202 points at: `pending` until the worker has the result."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from crm.bootstrap import bootstrap
from crm.runtime import Runtime
from crm.web import facade_context
from handlers.pipeline import CommandProcessor
from http_facade.app import create_app
from schemas.envelope import CommandEnvelope
from tests.conftest import embedded_settings
from tests.helpers import auth
from tests.integration.backends import topic_values

pytestmark = pytest.mark.wire_only

MILLISECONDS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
async def api_only() -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """A facade whose commands nobody consumes yet (a worker far behind, or restarting)."""
    runtime = Runtime(bootstrap(embedded_settings(reply_timeout_s=0.05), role="api"))
    await runtime.start()
    transport = httpx.ASGITransport(app=create_app(facade_context(runtime)))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield runtime, http
    finally:
        await runtime.stop()


async def decide_queued_commands(runtime: Runtime) -> None:
    """What a worker catching up does: process the commands published so far."""
    processor = CommandProcessor(runtime.parts.store.db)
    for value in await topic_values(
        runtime.parts.settings.kafka_servers, runtime.parts.topics.commands
    ):
        await processor.process(CommandEnvelope.model_validate(value))


async def test_a_202_points_at_a_status_that_is_pending_until_the_worker_decides(
    api_only: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, http = api_only
    headers = auth(request_id="slow-1")
    accepted = await http.post("/api/v1/crm/customers", json={"name": "Slow"}, headers=headers)
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["Location"]
    assert location == "/api/v1/crm/commands/slow-1"

    waiting = await http.get(location, headers=headers)
    assert waiting.status_code == 200, waiting.text
    assert waiting.json()["status"] == "pending"
    assert waiting.json()["type"] == "customer.create"

    await decide_queued_commands(runtime)
    done = await http.get(location, headers=headers)
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "succeeded"
    assert body["data"]["name"] == "Slow"
    assert MILLISECONDS_UTC.match(body["completedAt"]), body["completedAt"]


async def test_the_same_request_id_with_another_body_while_queued_is_a_409(
    api_only: tuple[Runtime, httpx.AsyncClient],
) -> None:
    _, http = api_only
    headers = auth(request_id="slow-2")
    first = await http.post("/api/v1/crm/customers", json={"name": "One"}, headers=headers)
    assert first.status_code == 202
    again = await http.post("/api/v1/crm/customers", json={"name": "One"}, headers=headers)
    assert again.status_code == 202  # the same request again: still pending
    other = await http.post("/api/v1/crm/customers", json={"name": "Two"}, headers=headers)
    assert other.status_code == 409, other.text
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_unknown_and_other_tenants_commands_are_404(
    api_only: tuple[Runtime, httpx.AsyncClient],
) -> None:
    _, http = api_only
    sent = await http.post(
        "/api/v1/crm/customers", json={"name": "Mine"}, headers=auth(request_id="slow-3")
    )
    assert sent.status_code == 202
    for path, tenant in (
        ("/api/v1/crm/commands/never-sent", "t1"),
        (sent.headers["Location"], "t2"),
    ):
        answer = await http.get(path, headers=auth(tenant=tenant))
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "COMMAND_NOT_FOUND"
