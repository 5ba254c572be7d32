"""Deleting a customer releases its external identities, says so in its change events, and
an integration event naming such an identity waits in the parked list for its next owner."""

import httpx

from crm.runtime import Runtime
from tests.conftest import published
from tests.handlers.test_integration_events import (
    BASE,
    WX,
    bind,
    cloud_event,
    create,
    interactions,
    send,
)
from tests.helpers import auth, new_request_id

PARKED = "/api/v1/crm/integration-events/parked"


async def test_a_deleted_customers_identity_is_released_to_its_next_owner(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    alice = await create(client, "Alice")
    await bind(client, alice, WX)
    deleted = await client.delete(
        f"/api/v1/crm/customers/{alice}", headers=auth(request_id=new_request_id())
    )
    assert deleted.status_code in (200, 204), deleted.text

    events = [m["value"] for m in await published(runtime, runtime.parts.topics.customer_events)]
    about_alice = [e for e in events if e["subject"] == alice]
    assert [e["type"] for e in about_alice] == [
        "crm.customer.created",
        "crm.customer.external_identity_bound",
        "crm.customer.external_identity_unbound",
        "crm.customer.deleted",
    ]
    assert [e["sequence"] for e in about_alice] == [1, 2, 3, 4]
    released = about_alice[2]["data"]
    assert {k: released[k] for k in WX} == WX
    assert released["reason"] == "customer_deleted" and released["unboundAt"]

    await send(
        runtime, cloud_event("interaction.recorded", {"identity": WX, "interactionType": "chat"})
    )
    page = (await client.get(PARKED, headers=auth())).json()
    assert [item["reason"] for item in page["items"]] == ["unknown_identity"]

    bob = await create(client, "Bob")
    rebound = await client.post(f"{BASE}/{bob}/bind-external", json=WX, headers=auth())
    assert rebound.status_code == 200, rebound.text  # not 409: Alice's identity is free
    assert len(await interactions(client, bob)) == 1
    assert (await client.get(PARKED, headers=auth())).json()["items"] == []
