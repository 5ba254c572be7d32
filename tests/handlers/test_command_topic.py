"""Raw JSON commands on crm.commands, as any producer sends them (both backends)."""

import json

from crm.runtime import Runtime
from storage.customers import CUSTOMERS
from tests.conftest import processed, published
from tests.helpers import publish_raw

TENANT = "t1"


def envelope(command_id: str, command_type: str, payload: dict, tenant: str = TENANT) -> dict:
    return {
        "commandId": command_id,
        "type": command_type,
        "tenantId": tenant,
        "actorId": "producer-1",
        "issuedAt": "2026-11-21T08:00:00Z",
        "payload": payload,
    }


async def send(runtime: Runtime, value: dict | bytes, key: bytes = b"t1:k") -> None:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    await publish_raw(runtime, runtime.parts.topics.commands, raw, key, {})
    await processed(runtime)  # inline when embedded; real Kafka: until the worker committed it


async def result_of(runtime: Runtime, command_id: str, tenant: str = TENANT) -> dict:
    entry = await runtime.parts.store.db["command_journal"].find_one(
        {"_id": f"{tenant}:{command_id}"}
    )
    assert entry is not None, f"no result for {command_id}"
    return entry["result"]


async def test_raw_create_command_is_applied_and_result_stored(runtime: Runtime) -> None:
    await send(
        runtime, envelope("c-1", "customer.create", {"name": "Acme", "phone": "13800000000"})
    )
    result = await result_of(runtime, "c-1")
    assert result["status"] == "succeeded"
    stored = await runtime.parts.store.db[CUSTOMERS].find_one({"_id": result["entityId"]})
    assert stored is not None
    assert stored["name"] == "Acme"
    assert stored["ownerId"] == "producer-1"  # defaults to the actor


async def test_same_command_delivered_twice_has_one_effect(runtime: Runtime) -> None:
    command = envelope("c-twice", "customer.add_interaction", {})
    await send(runtime, envelope("c-cust", "customer.create", {"name": "Twice"}))
    customer_id = (await result_of(runtime, "c-cust"))["entityId"]
    command["payload"] = {"customerId": customer_id, "interactionType": "call"}
    await send(runtime, command)
    await send(runtime, command)
    assert (
        await runtime.parts.store.db["interactions"].count_documents({"customerId": customer_id})
        == 1
    )
    customer = await runtime.parts.store.db[CUSTOMERS].find_one({"_id": customer_id})
    assert customer is not None
    assert customer["profile"]["interactionCount"] == 1
    events = await published(runtime, runtime.parts.topics.customer_events)
    assert [e["value"]["type"] for e in events] == [
        "crm.customer.created",
        "crm.interaction.recorded",
    ]


async def test_domain_rejection_is_a_result_not_a_dead_letter(runtime: Runtime) -> None:
    await send(runtime, envelope("c-missing", "customer.mark_vip", {"customerId": "nope"}))
    result = await result_of(runtime, "c-missing")
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "CUSTOMER_NOT_FOUND"
    assert await published(runtime, runtime.parts.topics.commands_dlq) == []


async def test_poison_messages_go_to_dlq_and_the_next_command_is_processed(
    runtime: Runtime,
) -> None:
    await send(runtime, b"{not json", key=b"poison-1")
    await send(runtime, b"\xff\xfe\x00", key=b"poison-2")
    await send(runtime, envelope("c-unknown", "customer.teleport", {}))
    await send(runtime, envelope("c-invalid", "customer.create", {"name": ""}))
    await send(runtime, {"type": "customer.create"})  # no envelope fields
    await send(runtime, envelope("c-good", "customer.create", {"name": "Still works"}))

    dead = await published(runtime, runtime.parts.topics.commands_dlq)
    reasons = [m["headers"]["x-dlq-reason"] for m in dead]
    assert reasons == [
        "undecodable",
        "undecodable",
        "unknown_type",
        "invalid_payload",
        "invalid_envelope",
    ]
    assert dead[0]["key"] == "poison-1"
    assert dead[0]["value"] == "{not json"  # the original bytes, untouched
    assert all(m["headers"]["x-dlq-error"] for m in dead)
    assert all(m["headers"]["x-dlq-original-topic"] == runtime.parts.topics.commands for m in dead)
    assert (await result_of(runtime, "c-good"))["status"] == "succeeded"


async def test_a_lone_surrogate_escape_is_undecodable(runtime: Runtime) -> None:
    """`"\\ud800"` names no character: no store could hold it, so the command is dead-lettered
    at once as undecodable (with its bytes untouched), not retried until it fails."""
    value = b'{"commandId":"c-s","type":"customer.create","tenantId":"t1","actorId":"u1",'
    value += b'"payload":{"name":"\\ud800"}}'
    await send(runtime, value, key=b"poison-3")
    [dead] = await published(runtime, runtime.parts.topics.commands_dlq)
    assert dead["headers"]["x-dlq-reason"] == "undecodable"
    assert dead["value"] == json.loads(value)  # the same bytes, read back as they were


async def test_same_command_id_in_other_tenant_is_another_command(runtime: Runtime) -> None:
    await send(runtime, envelope("shared-id", "customer.create", {"name": "A"}, tenant="t1"))
    await send(runtime, envelope("shared-id", "customer.create", {"name": "A"}, tenant="t2"))
    assert (await result_of(runtime, "shared-id", "t1"))["status"] == "succeeded"
    assert (await result_of(runtime, "shared-id", "t2"))["status"] == "succeeded"
    assert await runtime.parts.store.db[CUSTOMERS].count_documents({}) == 2


async def test_sequences_increase_per_customer_across_interleaved_customers(
    runtime: Runtime,
) -> None:
    ids = []
    for name in ("A", "B"):
        await send(runtime, envelope(f"create-{name}", "customer.create", {"name": name}))
        ids.append((await result_of(runtime, f"create-{name}"))["entityId"])
    for round_ in range(3):
        for customer_id in ids:
            await send(
                runtime,
                envelope(
                    f"i-{customer_id}-{round_}",
                    "customer.add_interaction",
                    {"customerId": customer_id, "interactionType": "chat"},
                ),
                key=f"t1:{customer_id}".encode(),
            )
    events = [m["value"] for m in await published(runtime, runtime.parts.topics.customer_events)]
    for customer_id in ids:
        mine = [e for e in events if e["data"].get("customerId", e["subject"]) == customer_id]
        assert [e["sequence"] for e in mine] == [1, 2, 3, 4]
    for event in events:
        assert event["specversion"] == "1.0"
        assert event["tenantid"] == "t1"
        assert event["causationid"]
        assert event["source"]
        assert event["time"]
