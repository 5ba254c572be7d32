"""Unknown JSON fields are ignored, the same way everywhere (README "Choices"): accepted,
not stored, not echoed, on the customer profile API, the CRM API and in a Kafka command."""

import json

import httpx

from crm.runtime import Runtime
from storage.customers import CUSTOMERS
from storage.journal import CommandJournal
from tests.conftest import processed
from tests.helpers import auth, new_request_id, publish_raw

UNKNOWN = {"favouriteColour": "teal", "isAdmin": True, "nested": {"x": [1, 2]}}


def assert_nothing_unknown(document: dict[str, object]) -> None:
    assert not set(UNKNOWN) & set(document), document


async def stored_customer(runtime: Runtime, customer_id: str) -> dict[str, object]:
    doc = await runtime.parts.store.db[CUSTOMERS].find_one({"_id": customer_id})
    assert doc is not None
    return dict(doc)


async def test_api_a_ignores_unknown_fields(runtime: Runtime, client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/api/customers", json={"name": "Ignored A", **UNKNOWN}, headers=auth()
    )
    assert created.status_code == 201, created.text
    customer = created.json()["data"]
    assert_nothing_unknown(customer)
    interaction = await client.post(
        f"/api/v1/api/customers/{customer['id']}/interactions",
        json={"interactionType": "call", **UNKNOWN},
        headers=auth(),
    )
    assert interaction.status_code == 201, interaction.text
    assert_nothing_unknown(interaction.json()["data"])
    assert_nothing_unknown(await stored_customer(runtime, customer["id"]))


async def test_api_b_ignores_unknown_fields(runtime: Runtime, client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/crm/customers",
        json={"name": "Ignored B", **UNKNOWN},
        headers=auth(request_id=new_request_id()),
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    assert_nothing_unknown(created.json())
    updated = await client.patch(
        f"/api/v1/crm/customers/{customer_id}",
        json={"level": "A", **UNKNOWN},
        headers=auth(request_id=new_request_id()),
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["level"] == "A"
    assert_nothing_unknown(updated.json())
    assert_nothing_unknown(await stored_customer(runtime, customer_id))


async def test_kafka_command_ignores_unknown_fields(runtime: Runtime) -> None:
    envelope = {
        "commandId": "unknown-fields-1",
        "type": "customer.create",
        "tenantId": "t1",
        "actorId": "producer-1",
        "payload": {"name": "Ignored K", **UNKNOWN},
        "traceParent": "00-abc-def-01",  # unknown at the envelope level too
    }
    await publish_raw(
        runtime, runtime.parts.topics.commands, json.dumps(envelope).encode(), b"t1:unknown", {}
    )
    await processed(runtime)
    entry = await CommandJournal(runtime.parts.store.db).find("t1", "unknown-fields-1")
    assert entry is not None
    assert entry["result"]["status"] == "succeeded"
    assert_nothing_unknown(entry["result"]["data"])
    assert_nothing_unknown(await stored_customer(runtime, entry["result"]["entityId"]))
