"""GET /api/v1/crm/integration-events/parked, with events published as a Kafka producer would."""

import json
import uuid
from typing import Any

import httpx

from crm.runtime import Runtime
from tests.conftest import processed
from tests.helpers import auth, publish_raw

PARKED = "/api/v1/crm/integration-events/parked"
CUSTOMERS = "/api/v1/api/customers"
WX = {"systemType": "im", "systemName": "wecom", "externalId": "wx-42"}
CRM_READ = ("crm.read",)


def cloud_event(event_type: str, data: dict[str, Any], tenant: str = "t1") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "wecom",
        "type": event_type,
        "time": "2026-11-21T08:00:00Z",
        "tenantid": tenant,
        "data": data,
    }


async def publish(runtime: Runtime, event: dict[str, Any]) -> None:
    """Publish to the integration topic and wait until the worker has handled it."""
    await publish_raw(
        runtime,
        runtime.parts.topics.integration_events,
        json.dumps(event).encode(),
        b"wecom:wx-42",
        {},
    )
    await processed(runtime)


async def listed(client: httpx.AsyncClient, tenant: str = "t1", **params: Any) -> dict[str, Any]:
    response = await client.get(PARKED, params=params, headers=auth(CRM_READ, tenant=tenant))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_unknown_identity_is_listed_then_applied_after_an_http_bind(
    client: httpx.AsyncClient,
    runtime: Runtime,
) -> None:
    created = await client.post(CUSTOMERS, json={"name": "Acme"}, headers=auth())
    customer_id = created.json()["data"]["id"]
    event = cloud_event(
        "interaction.recorded", {"identity": WX, "interactionType": "chat", "notes": "hi"}
    )
    await publish(runtime, event)

    page = await listed(client)
    assert page["total"] == 1
    assert (page["page"], page["pageSize"]) == (1, 20)
    [item] = page["items"]
    assert item["reason"] == "unknown_identity"
    assert item["type"] == "interaction.recorded"
    assert item["eventId"] == event["id"]
    assert item["source"] == "wecom"
    assert item["identity"] == WX
    assert item["parkedAt"]
    assert item["event"] == event
    assert not any(key.startswith("_") for key in item)
    assert "tenantId" not in item

    bind = await client.post(f"{CUSTOMERS}/{customer_id}/bind-external", json=WX, headers=auth())
    assert bind.status_code == 200, bind.text
    await processed(runtime)  # the bind's command also releases what it parked
    assert (await listed(client))["items"] == []
    interactions = await client.get(f"{CUSTOMERS}/{customer_id}/interactions", headers=auth())
    assert [i["notes"] for i in interactions.json()["data"]] == ["hi"]


async def test_list_is_tenant_scoped_oldest_first_and_paged(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    mine = [
        cloud_event("profile.metrics", {"customerId": f"missing-{n}", "metrics": metrics()})
        for n in range(3)
    ]
    for event in mine:
        await publish(runtime, event)
    await publish(runtime, cloud_event("identity.unlinked", WX, tenant="t2"))

    page = await listed(client)
    assert page["total"] == 3
    assert [i["eventId"] for i in page["items"]] == [e["id"] for e in mine]
    assert [i["customerId"] for i in page["items"]] == ["missing-0", "missing-1", "missing-2"]
    assert {i["reason"] for i in page["items"]} == {"unknown_customer"}

    second = await listed(client, page=2, pageSize=2)
    assert [i["eventId"] for i in second["items"]] == [mine[2]["id"]]
    assert (second["total"], second["page"], second["pageSize"]) == (3, 2, 2)

    other = await listed(client, tenant="t2")
    assert [i["type"] for i in other["items"]] == ["identity.unlinked"]


async def test_permissions_and_paging_bounds(client: httpx.AsyncClient) -> None:
    assert (await client.get(PARKED)).status_code == 401
    forbidden = await client.get(PARKED, headers=auth(("customers.read", "customers.write")))
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "FORBIDDEN"
    mismatch = await client.get(PARKED, headers=auth(CRM_READ, X_Tenant_Id="t2"))
    assert mismatch.status_code == 403
    for params in ({"pageSize": 101}, {"pageSize": 0}, {"page": 0}):
        response = await client.get(PARKED, params=params, headers=auth(CRM_READ))
        assert response.status_code == 400, params


async def test_phones_in_parked_events_are_masked_without_pii_permission(
    client: httpx.AsyncClient,
    runtime: Runtime,
) -> None:
    linked = cloud_event("identity.linked", {**WX, "match": {"phone": "13812345678"}})
    await publish(runtime, linked)
    [item] = (await listed(client))["items"]
    assert item["reason"] == "no_match"
    assert item["event"]["data"]["match"]["phone"] == "138****5678"
    with_pii = await client.get(PARKED, headers=auth((*CRM_READ, "customers.pii")))
    assert with_pii.json()["items"][0]["event"]["data"]["match"]["phone"] == "13812345678"


def metrics() -> dict[str, Any]:
    return {"satisfactionScore": 90, "issueCount": 0, "averageResolutionMinutes": 5}
