"""Change events as a downstream consumer reads them from crm.customer-events: what changed
and what it was, what caused it, and phones and emails masked unless configured clear."""

import json
from typing import Any

import httpx

from crm.runtime import Runtime
from crm.web import facade_context
from http_facade.app import create_app
from schemas.command_origin import ORIGIN_HEADER, PROOF_HEADER
from tests.conftest import attach_probe, processed, published
from tests.helpers import auth, publish_raw
from tests.integration.backends import Services, deployment

API_B = "/api/v1/crm/customers"
PII = ("customers.read", "customers.write", "customers.pii")


async def events(runtime: Runtime) -> list[dict[str, Any]]:
    return [m["value"] for m in await published(runtime, runtime.parts.topics.customer_events)]


def command(command_id: str, command_type: str, payload: dict[str, Any]) -> bytes:
    envelope = {
        "commandId": command_id,
        "type": command_type,
        "tenantId": "t1",
        "actorId": "sync-bot",
        "payload": payload,
    }
    return json.dumps(envelope).encode()


async def test_an_update_names_the_changed_fields_with_their_old_values_masked(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    created = await client.post(
        API_B,
        json={"name": "Acme", "phone": "13812345678", "email": "ops@acme.example"},
        headers=auth(request_id="create-1"),
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    updated = await client.patch(
        f"{API_B}/{customer_id}",
        json={"name": "Acme Ltd", "phone": "13900001111"},
        headers=auth(request_id="update-1"),
    )
    assert updated.status_code == 200, updated.text

    first, event = await events(runtime)
    assert first["type"] == "crm.customer.created" and "changedfields" not in first
    assert event["type"] == "crm.customer.updated"
    assert event["sequence"] == 2 and event["causationid"] == "update-1"
    assert set(event["changedfields"].split(",")) == {"name", "phone", "updatedAt"}
    previous = json.loads(event["previousvalues"])
    assert previous == {
        "name": "Acme",
        "phone": "138****5678",  # masked by default, as in HTTP reads
        "updatedAt": first["data"]["updatedAt"],
    }
    assert event["data"]["name"] == "Acme Ltd"
    assert event["data"]["phone"] == "139****1111"
    assert event["data"]["email"] == "o***@acme.example"
    assert first["data"]["phone"] == "138****5678"
    assert "13812345678" not in json.dumps(first) + json.dumps(event)


async def test_events_name_their_origin(runtime: Runtime, client: httpx.AsyncClient) -> None:
    """`http` only for what the facade sent: a producer copying the facade's header (even
    with the proof of another record) is `kafka`; an integration event names its system."""
    created = await client.post(API_B, json={"name": "Origin"}, headers=auth(request_id="h-1"))
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    key = f"t1:{customer_id}".encode()
    topic = runtime.parts.topics.commands
    vip = command("k-1", "customer.mark_vip", {"customerId": customer_id})
    await publish_raw(runtime, topic, vip, key, {})
    await publish_raw(runtime, topic, vip, key, {})  # delivered again: no second event
    forged = command("k-2", "customer.update", {"customerId": customer_id, "remark": "x"})
    stolen_proof = next(
        m["headers"][PROOF_HEADER] for m in await published(runtime, topic) if m["headers"]
    )
    await publish_raw(
        runtime, topic, forged, key, {ORIGIN_HEADER: "http", PROOF_HEADER: stolen_proof}
    )
    await processed(runtime)  # the commands first: the integration topic is another queue
    metrics = {
        "specversion": "1.0",
        "id": "ev-1",
        "source": "wecom",
        "type": "profile.metrics",
        "tenantid": "t1",
        "data": {
            "customerId": customer_id,
            "metrics": {"satisfactionScore": 90, "issueCount": 1, "averageResolutionMinutes": 5},
        },
    }
    await publish_raw(
        runtime, runtime.parts.topics.integration_events, json.dumps(metrics).encode(), key, {}
    )
    await processed(runtime)

    origins = [(e["causationid"], e["changeorigin"]) for e in await events(runtime)]
    assert origins[:3] == [("h-1", "http"), ("k-1", "kafka"), ("k-2", "kafka")]
    assert origins[3][1] == "integration:wecom"
    assert [e["sequence"] for e in await events(runtime)] == [1, 2, 3, 4]  # no gap, no repeat


async def test_clear_pii_is_a_setting(services: Services) -> None:
    async with deployment(services, event_pii="clear") as ([runtime], probe):
        attach_probe(runtime, probe)
        transport = httpx.ASGITransport(app=create_app(facade_context(runtime)))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            body = {"name": "Clear", "phone": "13812345678", "email": "ops@acme.example"}
            created = await http.post(API_B, json=body, headers=auth(PII, request_id="c-1"))
            assert created.status_code == 201, created.text
        [event] = await events(runtime)
        assert event["data"]["phone"] == "13812345678"
        assert event["data"]["email"] == "ops@acme.example"
