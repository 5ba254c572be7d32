"""The attack of issue 20 on stored keys, as a client sees it: tenants and identities whose
keys were the same joined text share no command result, no customer and no binding."""

import json

import httpx

from crm.runtime import Runtime
from schemas.ids import event_command_id
from tests.conftest import processed, published
from tests.helpers import auth, publish_raw

CUSTOMERS = "/api/v1/crm/customers"
PROFILES = "/api/v1/api/customers"
BODY = {"name": "Alpha", "phone": "13812345678"}


async def produce_create(runtime: Runtime, tenant: str, command_id: str) -> None:
    """Another system's producer creating a customer on the commands topic."""
    envelope = {
        "commandId": command_id,
        "type": "customer.create",
        "tenantId": tenant,
        "actorId": "producer-1",
        "payload": BODY,
    }
    value = json.dumps(envelope).encode()
    await publish_raw(runtime, runtime.parts.topics.commands, value, f"{tenant}:x".encode(), {})
    await processed(runtime)


async def status(client: httpx.AsyncClient, tenant: str, command_id: str) -> httpx.Response:
    return await client.get(f"/api/v1/crm/commands/{command_id}", headers=auth(tenant=tenant))


async def names(client: httpx.AsyncClient, tenant: str) -> list[tuple[str, str]]:
    response = await client.get(CUSTOMERS, headers=auth(tenant=tenant))
    assert response.status_code == 200, response.text
    return [(item["id"], item["name"]) for item in response.json()["items"]]


async def test_tenants_whose_keys_collided_share_no_command_result_or_customer(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    # Tenant `a`'s command `b:c` and tenant `a:b`'s command `c` were both `a:b:c`.
    await produce_create(runtime, "a", "b:c")
    victim = await status(client, "a", "b:c")
    assert victim.status_code == 200, victim.text
    victim_id = victim.json()["entityId"]

    assert (await status(client, "a:b", "c")).status_code == 404  # not tenant a's result
    created = await client.post(CUSTOMERS, json=BODY, headers=auth(tenant="a:b", request_id="c"))
    assert created.status_code == 201, created.text  # its own customer, not tenant a's
    own_id = created.json()["id"]
    assert own_id != victim_id
    assert created.json()["phone"] == "138****5678"

    assert await names(client, "a") == [(victim_id, "Alpha")]
    assert await names(client, "a:b") == [(own_id, "Alpha")]
    again = await status(client, "a:b", "c")
    assert again.status_code == 200 and again.json()["entityId"] == own_id
    assert (await status(client, "a", "b:c")).json()["entityId"] == victim_id
    other = await client.get(f"{CUSTOMERS}/{victim_id}", headers=auth(tenant="a:b"))
    assert other.status_code == 404


async def create_profile(client: httpx.AsyncClient, tenant: str, name: str) -> str:
    response = await client.post(PROFILES, json={"name": name}, headers=auth(tenant=tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def test_identities_whose_keys_collided_are_bound_in_each_tenant(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    # Tenant `a`'s identity (im, wecom, `im|x|y`) and tenant `a|im|wecom`'s (im, x, y)
    # were both `a|im|wecom|im|x|y`.
    bindings = {
        "a": {"systemType": "im", "systemName": "wecom", "externalId": "im|x|y"},
        "a|im|wecom": {"systemType": "im", "systemName": "x", "externalId": "y"},
    }
    for tenant, identity in bindings.items():
        customer_id = await create_profile(client, tenant, "Alice")
        path = f"{PROFILES}/{customer_id}/bindings"
        bound = await client.post(
            f"{PROFILES}/{customer_id}/bind-external", json=identity, headers=auth(tenant=tenant)
        )
        assert bound.status_code == 200, bound.text  # not 409: another tenant's identity
        [binding] = (await client.get(path, headers=auth(tenant=tenant))).json()["data"]
        assert {k: binding[k] for k in identity} == identity
        assert binding["customerId"] == customer_id


async def test_command_ids_of_integration_events_are_not_for_clients(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    # An integration event's command id is `integration:<uuid5(source, id)>`: a client that
    # took one first would have the event answered with its own command's result.
    taken = event_command_id("wecom", "e-1")
    refused = await client.post(CUSTOMERS, json=BODY, headers=auth(request_id=taken))
    assert refused.status_code == 400, refused.text
    assert "reserved" in refused.json()["message"]
    await produce_create(runtime, "t1", taken)
    [dead] = await published(runtime, runtime.parts.topics.commands_dlq)
    assert dead["headers"]["x-dlq-reason"] == "invalid_envelope"
    assert (await status(client, "t1", taken)).status_code == 404
    assert await names(client, "t1") == []
