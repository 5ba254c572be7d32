"""Every command reaches a terminal outcome (docs/architecture.md, "Dead letters"): one the
worker dead-letters is `failed`, with why, at its status resource; a redelivery does not change
that."""

import json
from typing import Any

import httpx

from crm.bootstrap import bootstrap
from crm.runtime import Runtime
from crm.web import facade_context
from handlers.pipeline import CommandProcessor
from http_facade.app import create_app
from schemas.envelope import CommandEnvelope, CommandType
from storage.customers import CUSTOMERS
from storage.journal import JOURNAL, journal_id
from tests.conftest import attach_probe, processed, published
from tests.helpers import auth, command_envelope, indexed_memory_db, publish_raw
from tests.integration.backends import Services, consuming, deployment

LIMIT = 1024  # the worker's CRM_MAX_MESSAGE_BYTES here, less than the facade's
ITEMS = [{"name": f"customer number {n:03d}"} for n in range(60)]  # an import over LIMIT


def client_of(runtime: Runtime) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(facade_context(runtime)))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_an_http_command_the_worker_dead_letters_ends_failed(services: Services) -> None:
    """A 202 is answered while no worker runs; the worker that then dead-letters the
    command (configured with a smaller message limit than the facade) records `failed`:
    the client polling never sees `pending` for ever."""
    async with deployment(services, ("api",), reply_timeout_s=0.05) as ([api], probe):
        headers = auth(request_id="big-import")
        async with client_of(api) as http:
            sent = await http.post(
                "/api/v1/crm/customers/import", json={"items": ITEMS}, headers=headers
            )
            assert sent.status_code == 202, sent.text
            location = sent.headers["Location"]
            assert (await http.get(location, headers=headers)).json()["status"] == "pending"

            settings = api.parts.settings.model_copy(update={"max_message_bytes": LIMIT})
            worker = Runtime(bootstrap(settings, role="worker", store=api.parts.store))
            attach_probe(worker, probe)
            await worker.start()
            try:
                await consuming(worker)
                await processed(worker)
                status = await http.get(location, headers=headers)
                dead = await published(worker, worker.parts.topics.commands_dlq)
            finally:
                await worker.stop()
            assert status.status_code == 200, status.text
            body = status.json()
            assert body["status"] == "failed", body
            assert body["error"]["code"] == "COMMAND_FAILED"
            assert body["error"]["details"] == "too_large"
            assert str(LIMIT) in body["error"]["message"]
            assert [m["headers"]["x-dlq-reason"] for m in dead] == ["too_large"]

            again = await http.post(
                "/api/v1/crm/customers/import", json={"items": ITEMS}, headers=headers
            )
            assert again.status_code == 413, again.text  # the same request: its outcome
            assert again.json()["code"] == "COMMAND_FAILED"


def envelope(command_id: str, payload: dict[str, Any]) -> bytes:
    wire = {
        "commandId": command_id,
        "type": "customer.create",
        "tenantId": "t1",
        "actorId": "producer-1",
        "payload": payload,
    }
    return json.dumps(wire).encode()


async def test_a_failed_command_stays_failed_when_delivered_again(services: Services) -> None:
    """A producer's invalid command is `failed`; the same command id sent again with a
    payload that would now be valid is not decided again: still `failed`, no customer, and
    the reuse of the id for another payload is dead-lettered `id_reused` (never applied)."""
    async with deployment(services) as ([runtime], probe):
        attach_probe(runtime, probe)
        bad = envelope("bad-1", {"name": ""})
        await publish_raw(runtime, runtime.parts.topics.commands, bad, None, {})
        await processed(runtime)
        await publish_raw(
            runtime, runtime.parts.topics.commands, envelope("bad-1", {"name": "Fixed"}), None, {}
        )
        await processed(runtime)
        async with client_of(runtime) as http:
            status = await http.get("/api/v1/crm/commands/bad-1", headers=auth())
        body = status.json()
        assert body["status"] == "failed", body
        assert body["error"]["details"] == "invalid_payload"
        assert body["error"]["kind"] == "invalid"
        assert await runtime.parts.store.db[CUSTOMERS].count_documents({}) == 0
        dead = await published(runtime, runtime.parts.topics.commands_dlq)
        assert [m["headers"]["x-dlq-reason"] for m in dead] == ["invalid_payload", "id_reused"]


def create(command_id: str, name: str) -> CommandEnvelope:
    envelope: CommandEnvelope = command_envelope(
        CommandType.CUSTOMER_CREATE, {"name": name}, command_id=command_id
    )
    return envelope


async def test_a_decided_command_that_cannot_be_applied_becomes_failed() -> None:
    """Committed, then dead-lettered because applying kept failing: `failed`, its
    changes and events dropped (nothing of it is published)."""
    db = await indexed_memory_db()
    processor = CommandProcessor(db)
    command = create("c-decided", "Acme")
    decision = await processor._decide(command)
    entry = await processor._journal_entry(command, decision)
    await db[JOURNAL].insert_one(entry)  # decided, never applied

    result = await processor.fail(command, "processing_failed", "RuntimeError: boom")
    assert result.status.value == "failed"
    stored = await db[JOURNAL].find_one({"_id": journal_id("t1", "c-decided")})
    assert stored is not None
    assert stored["state"] == "failed" and stored["published"] is True
    assert "changes" not in stored and "events" not in stored
    assert (await processor.process(command)).status.value == "failed"  # not applied now
    assert await db[CUSTOMERS].count_documents({}) == 0


async def test_failing_a_command_with_an_outcome_keeps_that_outcome() -> None:
    db = await indexed_memory_db()
    processor = CommandProcessor(db)
    command = create("c-done", "Done")
    await processor.process(command)
    result = await processor.fail(command, "processing_failed", "late failure")
    assert result.status.value == "succeeded"
    assert await db[CUSTOMERS].count_documents({}) == 1
