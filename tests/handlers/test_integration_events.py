"""Inbound CloudEvents on crm.integration.events (both backends)."""

import json
import uuid
from typing import Any

import httpx
import pytest
from pymongo.errors import AutoReconnect

from crm.runtime import Runtime
from handlers.command_consumer import Outcome
from handlers.dead_letters import RawMessage
from schemas.ids import created_customer_id, event_command_id
from storage.parked_events import PARKED_EVENTS
from tests.conftest import processed, published
from tests.helpers import auth, publish_raw

BASE = "/api/v1/api/customers"
TENANT = "t1"
SOURCE = "wecom"
WX = {"systemType": "im", "systemName": "wecom", "externalId": "wx-1"}


def cloud_event(
    event_type: str,
    data: Any,
    *,
    event_id: str | None = None,
    source: str = SOURCE,
    tenant: str = TENANT,
    time: str | None = "2026-11-21T08:00:00Z",
) -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "tenantid": tenant,
        "datacontenttype": "application/json",
        "data": data,
    }
    if time is not None:
        event["time"] = time
    return event


async def send(
    runtime: Runtime,
    value: dict[str, Any] | bytes,
    key: bytes | None = b"wecom:wx-1",
    headers: dict[str, str] | None = None,
) -> None:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    await publish_raw(runtime, runtime.parts.topics.integration_events, raw, key, headers or {})
    await processed(runtime)  # inline when embedded; real Kafka: until the worker committed it


async def create(client: httpx.AsyncClient, name: str, tenant: str = TENANT, **fields: Any) -> str:
    response = await client.post(BASE, json={"name": name, **fields}, headers=auth(tenant=tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def bindings(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{BASE}/{customer_id}/bindings", headers=auth())
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def interactions(client: httpx.AsyncClient, customer_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{BASE}/{customer_id}/interactions", headers=auth())
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def customer(client: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    response = await client.get(f"{BASE}/{customer_id}", headers=auth())
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


async def bind(client: httpx.AsyncClient, customer_id: str, identity: dict[str, str]) -> None:
    response = await client.post(
        f"{BASE}/{customer_id}/bind-external", json=identity, headers=auth()
    )
    assert response.status_code == 200, response.text


async def parked(runtime: Runtime, tenant: str = TENANT) -> list[dict[str, Any]]:
    await processed(runtime)  # releases run after a command's result is visible
    cursor = runtime.parts.store.db[PARKED_EVENTS].find({"tenantId": tenant}).sort("_seq", 1)
    return list(await cursor.to_list())


async def result_of(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    await processed(runtime)
    command_id = event_command_id(event["source"], event["id"])
    entry = await runtime.parts.store.db["command_journal"].find_one(
        {"_id": f"{event['tenantid']}:{command_id}"}
    )
    assert entry is not None, f"no result for event {event['id']}"
    return dict(entry["result"])


def producer_command(command_id: str, command_type: str, payload: dict) -> dict[str, Any]:
    """A command envelope as another system's producer puts it on the command topic."""
    return {
        "commandId": command_id,
        "type": command_type,
        "tenantId": TENANT,
        "actorId": "producer-1",
        "payload": payload,
    }


def interaction_data(**target: Any) -> dict[str, Any]:
    return {**target, "interactionType": "chat", "notes": "asked about pricing", "channel": "im"}


METRICS = {"satisfactionScore": 87.5, "issueCount": 2, "averageResolutionMinutes": 30}


# -- each event type, by customer id and by identity ------------------------------------


async def test_identity_linked_by_customer_id(runtime: Runtime, client: httpx.AsyncClient) -> None:
    customer_id = await create(client, "Acme")
    event = cloud_event(
        "identity.linked", {**WX, "displayName": "Zhang", "customerId": customer_id}
    )
    await send(runtime, event)
    [binding] = await bindings(client, customer_id)
    assert binding["externalId"] == "wx-1"
    assert binding["displayName"] == "Zhang"
    assert binding["boundBy"] == SOURCE  # the actor is the event's source
    result = await result_of(runtime, event)
    assert result["status"] == "succeeded"
    assert result["type"] == "customer.bind_external"
    assert await parked(runtime) == []


async def test_identity_linked_by_phone_match(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await create(client, "Other", phone="13900000000")
    customer_id = await create(client, "Acme", phone="13812345678")
    await send(runtime, cloud_event("identity.linked", {**WX, "match": {"phone": "13812345678"}}))
    assert [b["externalId"] for b in await bindings(client, customer_id)] == ["wx-1"]


async def test_identity_linked_by_email_match_ignores_case(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme", email="Zhang@Acme.example")
    await create(client, "Other", email="li@acme.example")
    match = {"email": "zhang@acme.EXAMPLE"}
    await send(runtime, cloud_event("identity.linked", {**WX, "match": match}))
    assert [b["externalId"] for b in await bindings(client, customer_id)] == ["wx-1"]


async def test_ambiguous_match_is_parked_not_guessed(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    first = await create(client, "Acme", phone="13812345678")
    second = await create(client, "Acme Two", email="ops@acme.example")
    match = {"phone": "13812345678", "email": "ops@acme.example"}  # two customers
    event = cloud_event("identity.linked", {**WX, "match": match})
    await send(runtime, event)
    assert await bindings(client, first) == []
    assert await bindings(client, second) == []
    [doc] = await parked(runtime)
    assert doc["reason"] == "ambiguous_match"
    assert doc["eventId"] == event["id"]
    assert doc["identity"] == WX

    # Settled by binding the identity explicitly: the parked link leaves the list.
    await bind(client, second, WX)
    assert await parked(runtime) == []
    assert (await result_of(runtime, event))["status"] == "succeeded"
    assert [b["externalId"] for b in await bindings(client, second)] == ["wx-1"]
    assert await bindings(client, first) == []


async def test_no_match_is_parked_and_applied_when_the_customer_appears(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    event = cloud_event("identity.linked", {**WX, "match": {"email": "new@acme.example"}})
    await send(runtime, event)
    [doc] = await parked(runtime)
    assert doc["reason"] == "no_match"
    customer_id = await create(client, "Newcomer", email="new@acme.example")
    assert await parked(runtime) == []
    assert [b["externalId"] for b in await bindings(client, customer_id)] == ["wx-1"]


async def test_identity_unlinked(runtime: Runtime, client: httpx.AsyncClient) -> None:
    customer_id = await create(client, "Acme")
    await bind(client, customer_id, WX)
    event = cloud_event("identity.unlinked", WX)
    await send(runtime, event)
    assert await bindings(client, customer_id) == []
    assert (await result_of(runtime, event))["type"] == "customer.unbind_external"


async def test_identity_unlinked_of_an_unknown_identity_is_parked(runtime: Runtime) -> None:
    await send(runtime, cloud_event("identity.unlinked", WX))
    [doc] = await parked(runtime)
    assert doc["reason"] == "unknown_identity"
    assert doc["type"] == "identity.unlinked"


async def test_profile_metrics_by_customer_id_and_by_identity(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    by_id = await create(client, "By id")
    by_identity = await create(client, "By identity")
    await bind(client, by_identity, WX)
    await send(runtime, cloud_event("profile.metrics", {"customerId": by_id, "metrics": METRICS}))
    other_metrics = {**METRICS, "satisfactionScore": 40}
    await send(
        runtime,
        cloud_event(
            "profile.metrics", {"identity": WX, "metrics": other_metrics}, source="salesforce"
        ),
    )
    first = await customer(client, by_id)
    assert first["metrics"]["satisfactionScore"] == 87.5
    assert first["metrics"]["source"] == SOURCE
    assert first["profileSource"] == SOURCE
    second = await customer(client, by_identity)
    assert second["metrics"]["satisfactionScore"] == 40
    assert second["metrics"]["source"] == "salesforce"


async def test_interaction_recorded_by_customer_id_and_by_identity(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme")
    await bind(client, customer_id, WX)
    await send(
        runtime,
        cloud_event(
            "interaction.recorded",
            {**interaction_data(customerId=customer_id), "occurredAt": "2026-11-20T10:00:00Z"},
        ),
    )
    await send(
        runtime,
        cloud_event(
            "interaction.recorded",
            {"identity": WX, "interactionType": "call"},
            time="2026-11-21T09:30:00Z",
        ),
    )
    listed = await interactions(client, customer_id)
    assert [(i["interactionType"], i["occurredAt"]) for i in listed] == [
        ("call", "2026-11-21T09:30:00.000Z"),  # no occurredAt: the event's time
        ("chat", "2026-11-20T10:00:00.000Z"),
    ]
    assert listed[1]["notes"] == "asked about pricing"
    assert all(i["recordedBy"] == SOURCE for i in listed)
    assert (await customer(client, customer_id))["profile"]["interactionCount"] == 2


async def test_customer_id_of_another_tenant_does_not_resolve(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme", tenant="t1")
    event = cloud_event(
        "interaction.recorded", interaction_data(customerId=customer_id), tenant="t2"
    )
    await send(runtime, event)
    assert await interactions(client, customer_id) == []
    [doc] = await parked(runtime, tenant="t2")
    assert doc["reason"] == "unknown_customer"
    assert doc["customerId"] == customer_id
    assert await parked(runtime, tenant="t1") == []


async def test_cloudevent_in_binary_content_mode(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme")
    headers = {
        "ce_specversion": "1.0",
        "ce_id": "bin-1",
        "ce_source": SOURCE,
        "ce_type": "interaction.recorded",
        "ce_tenantid": TENANT,
        "content-type": "application/json",
    }
    body = json.dumps(interaction_data(customerId=customer_id)).encode()
    await send(runtime, body, headers=headers)
    assert len(await interactions(client, customer_id)) == 1


# -- parking and release ----------------------------------------------------------------


async def test_parked_events_are_applied_in_order_once_the_identity_is_bound(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme")
    events = [
        cloud_event("interaction.recorded", {"identity": WX, "interactionType": "chat"}),
        cloud_event("profile.metrics", {"identity": WX, "metrics": METRICS}),
        cloud_event("interaction.recorded", {"identity": WX, "interactionType": "call"}),
    ]
    for event in events:
        await send(runtime, event)
    assert [d["reason"] for d in await parked(runtime)] == ["unknown_identity"] * 3
    assert await interactions(client, customer_id) == []

    await bind(client, customer_id, WX)
    assert await parked(runtime) == []
    assert len(await interactions(client, customer_id)) == 2
    assert (await customer(client, customer_id))["metrics"]["source"] == SOURCE

    changes = [m["value"] for m in await published(runtime, runtime.parts.topics.customer_events)]
    released = [
        (e["type"], e["causationid"])
        for e in changes
        if e["causationid"].startswith("integration:")
    ]
    assert released == [
        ("crm.interaction.recorded", event_command_id(SOURCE, events[0]["id"])),
        ("crm.customer.profile_refreshed", event_command_id(SOURCE, events[1]["id"])),
        ("crm.interaction.recorded", event_command_id(SOURCE, events[2]["id"])),
    ]


async def test_a_bind_command_on_the_command_topic_releases_parked_events(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme")
    await send(
        runtime, cloud_event("interaction.recorded", {"identity": WX, "interactionType": "chat"})
    )
    command = producer_command(
        "bind-by-kafka", "customer.bind_external", {"customerId": customer_id, **WX}
    )
    await publish_raw(
        runtime,
        runtime.parts.topics.commands,
        json.dumps(command).encode(),
        f"{TENANT}:{customer_id}".encode(),
        {},
    )
    assert await parked(runtime) == []
    assert len(await interactions(client, customer_id)) == 1


async def test_an_identity_linked_event_releases_parked_events(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme", phone="13812345678")
    await send(
        runtime, cloud_event("interaction.recorded", {"identity": WX, "interactionType": "chat"})
    )
    await send(runtime, cloud_event("identity.linked", {**WX, "match": {"phone": "13812345678"}}))
    assert await parked(runtime) == []
    assert len(await interactions(client, customer_id)) == 1


async def test_unknown_customer_is_applied_when_that_customer_is_created(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    future_id = created_customer_id(TENANT, "create-later")
    await send(runtime, cloud_event("interaction.recorded", interaction_data(customerId=future_id)))
    [doc] = await parked(runtime)
    assert doc["reason"] == "unknown_customer"
    response = await client.post(
        BASE, json={"name": "Late"}, headers=auth(X_Request_ID="create-later")
    )
    assert response.json()["data"]["id"] == future_id
    assert await parked(runtime) == []
    assert len(await interactions(client, future_id)) == 1


async def test_release_that_still_does_not_resolve_keeps_the_event(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await create(client, "A", phone="13800000001")
    await create(client, "B", phone="13800000001")
    await send(runtime, cloud_event("identity.linked", {**WX, "match": {"phone": "13800000001"}}))
    await create(client, "C", phone="13800000001")  # a customer write that does not settle it
    [doc] = await parked(runtime)
    assert doc["reason"] == "ambiguous_match"
    assert doc["lastTriedAt"]


# -- idempotency ------------------------------------------------------------------------


async def test_same_event_delivered_twice_has_one_effect(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme")
    event = cloud_event("interaction.recorded", interaction_data(customerId=customer_id))
    await send(runtime, event)
    await send(runtime, event)
    assert len(await interactions(client, customer_id)) == 1
    assert (await customer(client, customer_id))["profile"]["interactionCount"] == 1
    changes = [m["value"] for m in await published(runtime, runtime.parts.topics.customer_events)]
    assert [e["type"] for e in changes].count("crm.interaction.recorded") == 1


async def test_parked_event_delivered_twice_is_parked_once_and_applied_once(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme")
    event = cloud_event("interaction.recorded", {"identity": WX, "interactionType": "chat"})
    await send(runtime, event)
    await send(runtime, event)
    assert len(await parked(runtime)) == 1
    await bind(client, customer_id, WX)
    await send(runtime, event)  # redelivered after it was released
    assert len(await interactions(client, customer_id)) == 1
    assert await parked(runtime) == []


async def test_redelivery_after_unbinding_does_not_park_an_applied_event(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme")
    await bind(client, customer_id, WX)
    event = cloud_event("interaction.recorded", {"identity": WX, "interactionType": "chat"})
    await send(runtime, event)
    response = await client.request(
        "DELETE", f"{BASE}/{customer_id}/bindings", json=WX, headers=auth()
    )
    assert response.status_code == 200, response.text
    await send(runtime, event)  # the identity resolves no more, but the event was applied
    assert await parked(runtime) == []
    assert len(await interactions(client, customer_id)) == 1


async def test_same_event_id_from_another_source_is_another_event(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme")
    data = interaction_data(customerId=customer_id)
    await send(runtime, cloud_event("interaction.recorded", data, event_id="e-1", source="a"))
    await send(runtime, cloud_event("interaction.recorded", data, event_id="e-1", source="b"))
    assert len(await interactions(client, customer_id)) == 2


async def test_domain_rejection_is_a_stored_result_and_a_dead_letter(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    owner = await create(client, "Owner")
    other = await create(client, "Other")
    await bind(client, owner, WX)
    event = cloud_event("identity.linked", {**WX, "customerId": other})
    await send(runtime, event)
    result = await result_of(runtime, event)
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "IDENTITY_ALREADY_BOUND"
    [dead] = await published(runtime, runtime.parts.topics.commands_dlq)  # never dropped silently
    assert dead["headers"]["x-dlq-reason"] == "rejected"
    assert dead["headers"]["x-dlq-error"].startswith("IDENTITY_ALREADY_BOUND: ")
    assert dead["value"]["id"] == event["id"]
    assert await parked(runtime) == []
    assert [b["customerId"] for b in await bindings(client, owner)] == [owner]


# -- poison and failures ----------------------------------------------------------------


async def test_poison_events_are_dead_lettered_and_the_next_event_is_processed(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme")
    good = interaction_data(customerId=customer_id)
    no_tenant = cloud_event("interaction.recorded", good)
    del no_tenant["tenantid"]
    poison: list[tuple[dict[str, Any] | bytes, str]] = [
        (b"{not json", "undecodable"),
        (b"\xff\xfe\x00", "undecodable"),
        (b"[1, 2]", "not_cloudevent"),
        ({"id": "x", "type": "interaction.recorded", "data": good}, "not_cloudevent"),
        ({**cloud_event("interaction.recorded", good), "specversion": "0.3"}, "not_cloudevent"),
        (no_tenant, "not_cloudevent"),
        (cloud_event("identity.teleported", good), "unknown_type"),
        (cloud_event("interaction.recorded", {"customerId": customer_id}), "invalid_data"),
        (
            cloud_event(
                "profile.metrics",
                {"customerId": customer_id, "metrics": {**METRICS, "satisfactionScore": 101}},
            ),
            "invalid_data",
        ),
        (cloud_event("interaction.recorded", {**good, "identity": WX}), "invalid_data"),
        (cloud_event("identity.linked", {**WX, "match": {}}), "invalid_data"),
        (
            cloud_event(
                "identity.linked",
                {
                    "systemType": "fax",
                    "systemName": "x",
                    "externalId": "1",
                    "customerId": customer_id,
                },
            ),
            "invalid_data",
        ),
    ]
    for index, (value, _) in enumerate(poison):
        await send(runtime, value, key=f"poison-{index}".encode())
    await send(runtime, cloud_event("interaction.recorded", good))

    dead = await published(runtime, runtime.parts.topics.commands_dlq)
    assert [m["headers"]["x-dlq-reason"] for m in dead] == [reason for _, reason in poison]
    assert [m["key"] for m in dead] == [f"poison-{i}" for i in range(len(poison))]
    assert dead[0]["value"] == "{not json"  # the original bytes, untouched
    for message in dead:
        headers = message["headers"]
        assert headers["x-dlq-error"]
        assert headers["x-dlq-original-topic"] == runtime.parts.topics.integration_events
        assert headers["x-dlq-failed-at"]
    assert len(await interactions(client, customer_id)) == 1
    assert await parked(runtime) == []


@pytest.mark.wire_only  # patches the worker's internals
async def test_transient_store_error_leaves_the_event_for_redelivery(
    runtime: Runtime, client: httpx.AsyncClient, monkeypatch: Any
) -> None:
    customer_id = await create(client, "Acme")
    event = cloud_event("interaction.recorded", interaction_data(customerId=customer_id))
    message = RawMessage(
        value=json.dumps(event).encode(),
        key=b"k",
        topic=runtime.parts.topics.integration_events,
    )

    async def unreachable(*_: Any) -> Any:
        raise AutoReconnect("store unreachable")

    monkeypatch.setattr(runtime.parts.processor, "process", unreachable)
    assert await runtime.parts.integration.consume(message) is Outcome.RETRY_LATER
    monkeypatch.undo()
    assert await published(runtime, runtime.parts.topics.commands_dlq) == []
    assert await interactions(client, customer_id) == []

    assert await runtime.parts.integration.consume(message) is Outcome.PROCESSED
    assert len(await interactions(client, customer_id)) == 1


# -- change events ----------------------------------------------------------------------


async def test_applied_events_produce_change_events(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    customer_id = await create(client, "Acme", email="a@acme.example")
    events = [
        cloud_event("identity.linked", {**WX, "match": {"email": "a@acme.example"}}),
        cloud_event("interaction.recorded", {"identity": WX, "interactionType": "call"}),
        cloud_event("profile.metrics", {"identity": WX, "metrics": METRICS}),
        cloud_event("identity.unlinked", WX),
    ]
    for event in events:
        await send(runtime, event)
    messages = await published(runtime, runtime.parts.topics.customer_events)
    mine = [m for m in messages if m["value"]["causationid"].startswith("integration:")]
    assert [m["value"]["type"] for m in mine] == [
        "crm.customer.external_identity_bound",
        "crm.interaction.recorded",
        "crm.customer.profile_refreshed",
        "crm.customer.external_identity_unbound",
    ]
    assert [m["value"]["causationid"] for m in mine] == [
        event_command_id(SOURCE, e["id"]) for e in events
    ]
    for message in mine:
        assert message["key"] == f"{TENANT}:{customer_id}"
        assert message["value"]["tenantid"] == TENANT
    sequences = [m["value"]["sequence"] for m in messages]
    assert sequences == sorted(sequences)


@pytest.mark.wire_only  # patches the worker's internals
async def test_identity_bound_while_the_event_is_being_parked_is_still_applied(
    runtime: Runtime, client: httpx.AsyncClient, monkeypatch: Any
) -> None:
    """The bind lands between the event's failed resolution and its parking: the release
    ran before the parked document existed, so parking must notice the binding itself."""
    customer_id = await create(client, "Acme")
    repository = runtime.parts.integration._parked
    original_park = repository.park

    async def park_after_a_concurrent_bind(doc: dict[str, Any]) -> bool:
        await bind(client, customer_id, WX)  # finds nothing parked to release yet
        return await original_park(doc)

    monkeypatch.setattr(repository, "park", park_after_a_concurrent_bind)
    await send(
        runtime, cloud_event("interaction.recorded", {"identity": WX, "interactionType": "chat"})
    )
    assert await parked(runtime) == []
    assert len(await interactions(client, customer_id)) == 1


async def command(runtime: Runtime, command_id: str, command_type: str, payload: dict) -> None:
    envelope = producer_command(command_id, command_type, payload)
    await publish_raw(
        runtime, runtime.parts.topics.commands, json.dumps(envelope).encode(), b"t1:k", {}
    )
    await processed(runtime)


async def test_customer_update_and_import_release_matching_links(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    updated = await create(client, "Acme")
    wx2 = {**WX, "externalId": "wx-2"}
    await send(runtime, cloud_event("identity.linked", {**WX, "match": {"phone": "13811112222"}}))
    await send(runtime, cloud_event("identity.linked", {**wx2, "match": {"email": "b@b.example"}}))
    assert [d["reason"] for d in await parked(runtime)] == ["no_match", "no_match"]

    await command(
        runtime, "upd-1", "customer.update", {"customerId": updated, "phone": "13811112222"}
    )
    assert [b["externalId"] for b in await bindings(client, updated)] == ["wx-1"]
    await command(
        runtime,
        "imp-1",
        "customer.import",
        {"items": [{"name": "Imported", "email": "B@b.example"}, {"name": "Plain"}]},
    )
    doc = await runtime.parts.store.db["customers"].find_one({"name": "Imported"})
    assert doc is not None
    assert [b["externalId"] for b in await bindings(client, doc["_id"])] == ["wx-2"]
    assert await parked(runtime) == []


@pytest.mark.wire_only  # patches the worker's internals
async def test_release_hit_by_a_transient_error_is_retried_with_the_bind_command(
    runtime: Runtime, client: httpx.AsyncClient, monkeypatch: Any
) -> None:
    customer_id = await create(client, "Acme")
    await send(
        runtime, cloud_event("interaction.recorded", {"identity": WX, "interactionType": "chat"})
    )
    bind_command = producer_command(
        "bind-1", "customer.bind_external", {"customerId": customer_id, **WX}
    )
    message = RawMessage(
        value=json.dumps(bind_command).encode(),
        key=f"{TENANT}:{customer_id}".encode(),
        topic=runtime.parts.topics.commands,
    )

    async def unreachable(*_: Any, **__: Any) -> Any:
        raise AutoReconnect("store unreachable")

    monkeypatch.setattr(runtime.parts.integration._parked, "waiting_for_identity", unreachable)
    assert await runtime.parts.consumer.consume(message) is Outcome.RETRY_LATER
    monkeypatch.undo()
    assert len(await parked(runtime)) == 1  # bound, but its release is still to come

    assert await runtime.parts.consumer.consume(message) is Outcome.PROCESSED  # the redelivery
    assert await parked(runtime) == []
    assert len(await interactions(client, customer_id)) == 1
