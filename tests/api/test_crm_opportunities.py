"""CRM API opportunities through HTTP: every route, its rules and its errors.

The small helpers at the top are shared by the other the CRM API sales tests.
"""

import asyncio

import httpx
import pytest

from crm.runtime import Runtime
from tests.conftest import published
from tests.helpers import auth, new_request_id

CRM = "/api/v1/crm"
PROFILES = "/api/v1/api/customers"  # customer profile API: creates the customers
READ = ("crm.read",)
WRITE = ("crm.write",)


def write_headers(**kwargs: str) -> dict[str, str]:
    """A token with every permission and a fresh X-Request-ID (one new command)."""
    tenant = kwargs.pop("tenant", "t1")
    return auth(tenant=tenant, request_id=new_request_id(), **kwargs)


async def new_customer(client: httpx.AsyncClient, tenant: str = "t1", name: str = "") -> str:
    body = {"name": name or f"Customer {new_request_id()}"}
    response = await client.post(PROFILES, json=body, headers=auth(tenant=tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def create(
    client: httpx.AsyncClient, path: str, body: dict, *, tenant: str = "t1", base: str = CRM
) -> dict:
    response = await client.post(f"{base}{path}", json=body, headers=write_headers(tenant=tenant))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def new_opportunity(
    client: httpx.AsyncClient, customer_id: str, tenant: str = "t1", **fields: object
) -> dict:
    body = {"customerId": customer_id, "name": "Deal", **fields}
    return await create(client, "/opportunities", body, tenant=tenant)


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert set(body) == {"code", "message", "details", "requestId"}
    if code is not None:
        assert body["code"] == code
    return body


async def test_create_read_and_list_on_both_paths(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await new_opportunity(
        client, customer_id, name="Big deal", amount=1200.5, expectedCloseDate="2026-12-31"
    )
    assert created["customerId"] == customer_id
    assert created["name"] == "Big deal"
    assert created["amount"] == 1200.5
    assert created["stage"] == "lead"  # the default
    assert created["expectedCloseDate"] == "2026-12-31"
    assert created["ownerId"] == "u1"  # the token's sub
    assert created["createdAt"] and created["updatedAt"]
    assert "tenantId" not in created and "_deleted" not in created

    for base in (CRM, ""):  # the gateway path and the direct "cell" path
        detail = await client.get(f"{base}/opportunities/{created['id']}", headers=auth(READ))
        assert detail.status_code == 200
        assert detail.json() == created

    listed = await client.get(
        "/opportunities", params={"customerId": customer_id}, headers=auth(READ)
    )
    assert listed.status_code == 200
    assert listed.json() == {"items": [created], "total": 1, "page": 1, "pageSize": 20}


async def test_created_at_the_root_path(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await create(
        client, "/opportunities", {"customerId": customer_id, "name": "Cell"}, base=""
    )
    detail = await client.get(f"{CRM}/opportunities/{created['id']}", headers=auth(READ))
    assert detail.json()["name"] == "Cell"


async def test_owner_defaults_to_x_user_id_then_sub(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    response = await client.post(
        f"{CRM}/opportunities",
        json={"customerId": customer_id, "name": "Owned"},
        headers={**write_headers(sub="boss"), "X-User-Id": "sales-7"},
    )
    assert response.json()["ownerId"] == "sales-7"
    by_sub = await client.post(
        f"{CRM}/opportunities",
        json={"customerId": customer_id, "name": "Owned"},
        headers=write_headers(sub="boss"),
    )
    assert by_sub.json()["ownerId"] == "boss"
    explicit = await new_opportunity(client, customer_id, ownerId="someone")
    assert explicit["ownerId"] == "someone"


async def test_list_pages_newest_first_and_filters(client: httpx.AsyncClient) -> None:
    first, second = await new_customer(client), await new_customer(client)
    ids = []
    for index in range(5):
        ids.append((await new_opportunity(client, first, name=f"o{index}"))["id"])
        await asyncio.sleep(0.002)  # distinct createdAt milliseconds
    other = await new_opportunity(client, second)
    page1 = (
        await client.get(
            f"{CRM}/opportunities",
            params={"customerId": first, "page": 1, "pageSize": 2},
            headers=auth(READ),
        )
    ).json()
    page3 = (
        await client.get(
            f"{CRM}/opportunities",
            params={"customerId": first, "page": 3, "pageSize": 2},
            headers=auth(READ),
        )
    ).json()
    assert page1["total"] == page3["total"] == 5
    assert [o["id"] for o in page1["items"]] == ids[::-1][:2]
    assert [o["id"] for o in page3["items"]] == ids[:1]
    everything = (await client.get(f"{CRM}/opportunities", headers=auth(READ))).json()
    assert everything["total"] == 6
    assert everything["items"][0]["id"] == other["id"]
    too_big = await client.get(f"{CRM}/opportunities?pageSize=101", headers=auth(READ))
    assert_error(too_big, 400)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "No customer"},
        {"customerId": "c"},
        {"customerId": "c", "name": ""},
        {"customerId": "c", "name": "x", "stage": "closed"},
        {"customerId": "c", "name": "x", "stage": None},
        {"customerId": "c", "name": "x", "amount": -0.01},
        {"customerId": "c", "name": "x", "amount": "lots"},
        {"customerId": "c", "name": "x", "amount": 1e13},
        {"customerId": "c", "name": "x", "expectedCloseDate": "soon"},
    ],
)
async def test_create_rejects_invalid_bodies(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post(f"{CRM}/opportunities", json=body, headers=write_headers())
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_every_stage_is_accepted(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    for stage in ("lead", "qualified", "proposal", "negotiation", "won", "lost"):
        assert (await new_opportunity(client, customer_id, stage=stage))["stage"] == stage


async def test_unknown_or_deleted_customer_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{CRM}/opportunities",
        json={"customerId": "no-such-customer", "name": "x"},
        headers=write_headers(),
    )
    body = assert_error(response, 404, "CUSTOMER_NOT_FOUND")
    assert body["requestId"] == response.headers["x-request-id"]


async def test_x_request_id_is_required_on_post_and_patch(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await new_opportunity(client, customer_id)
    post = await client.post(
        f"{CRM}/opportunities", json={"customerId": customer_id, "name": "x"}, headers=auth()
    )
    assert_error(post, 400, "REQUEST_ID_REQUIRED")
    patch = await client.patch(
        f"{CRM}/opportunities/{created['id']}", json={"stage": "won"}, headers=auth()
    )
    assert_error(patch, 400, "REQUEST_ID_REQUIRED")


async def test_update_changes_only_the_given_fields(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await new_opportunity(client, customer_id, amount=100, expectedCloseDate="2026-10-01")
    url = f"{CRM}/opportunities/{created['id']}"
    response = await client.patch(
        url, json={"stage": "negotiation", "amount": 90}, headers=write_headers()
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["stage"] == "negotiation"
    assert updated["amount"] == 90
    assert updated["name"] == created["name"]
    assert updated["expectedCloseDate"] == "2026-10-01"
    assert updated["createdAt"] == created["createdAt"]
    assert updated["updatedAt"] >= created["updatedAt"]
    assert (await client.get(url, headers=auth(READ))).json() == updated

    cleared = await client.patch(url, json={"expectedCloseDate": None}, headers=write_headers())
    assert cleared.json()["expectedCloseDate"] is None
    timestamp = await client.patch(
        url, json={"expectedCloseDate": "2027-01-15T22:00:00Z"}, headers=write_headers()
    )
    assert timestamp.json()["expectedCloseDate"] == "2027-01-15"


@pytest.mark.parametrize(
    "body",
    [{"stage": "closed"}, {"name": None}, {"amount": -1}, {"stage": None}, {"amount": None}],
)
async def test_update_rejects_invalid_bodies(client: httpx.AsyncClient, body: dict) -> None:
    customer_id = await new_customer(client)
    created = await new_opportunity(client, customer_id)
    response = await client.patch(
        f"{CRM}/opportunities/{created['id']}", json=body, headers=write_headers()
    )
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_delete_is_soft_and_hides_the_opportunity(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await new_opportunity(client, customer_id)
    url = f"{CRM}/opportunities/{created['id']}"
    deleted = await client.delete(url, headers=auth(WRITE))
    assert deleted.status_code == 200
    assert deleted.json() == {"id": created["id"], "deleted": True}
    assert_error(await client.get(url, headers=auth(READ)), 404, "OPPORTUNITY_NOT_FOUND")
    listed = await client.get(f"{CRM}/opportunities", headers=auth(READ))
    assert listed.json()["total"] == 0
    assert_error(await client.delete(url, headers=auth(WRITE)), 404, "OPPORTUNITY_NOT_FOUND")
    patched = await client.patch(url, json={"stage": "won"}, headers=write_headers())
    assert_error(patched, 404, "OPPORTUNITY_NOT_FOUND")


async def test_repeated_delete_returns_the_first_answer(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await new_opportunity(client, customer_id)
    url = f"{CRM}/opportunities/{created['id']}"
    headers = auth(WRITE, request_id="delete-once")
    first = await client.delete(url, headers=headers)
    again = await client.delete(url, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()


async def test_unknown_id_is_404_on_every_route(client: httpx.AsyncClient) -> None:
    url = f"{CRM}/opportunities/no-such-id"
    assert_error(await client.get(url, headers=auth(READ)), 404, "OPPORTUNITY_NOT_FOUND")
    patched = await client.patch(url, json={"name": "x"}, headers=write_headers())
    assert_error(patched, 404, "OPPORTUNITY_NOT_FOUND")
    assert_error(await client.delete(url, headers=auth(WRITE)), 404, "OPPORTUNITY_NOT_FOUND")


async def test_same_request_id_creates_once(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    headers = auth(request_id="opp-create-1")
    body = {"customerId": customer_id, "name": "Once", "amount": 10}
    first = await client.post(f"{CRM}/opportunities", json=body, headers=headers)
    second = await client.post(f"{CRM}/opportunities", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    listed = await client.get(f"{CRM}/opportunities", headers=auth(READ))
    assert listed.json()["total"] == 1
    reused = await client.post(f"{CRM}/opportunities", json={**body, "amount": 11}, headers=headers)
    assert_error(reused, 409, "IDEMPOTENCY_KEY_REUSED")
    assert (await client.get(f"{CRM}/opportunities", headers=auth(READ))).json()["total"] == 1


async def test_tenants_never_see_each_other(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client, tenant="t1")
    created = await new_opportunity(client, customer_id, tenant="t1")
    url = f"{CRM}/opportunities/{created['id']}"
    t2_read, t2_write = auth(READ, tenant="t2"), auth(WRITE, tenant="t2")
    assert_error(await client.get(url, headers=t2_read), 404)
    assert_error(
        await client.patch(url, json={"stage": "won"}, headers=write_headers(tenant="t2")), 404
    )
    assert_error(await client.delete(url, headers=t2_write), 404)
    assert (await client.get(f"{CRM}/opportunities", headers=t2_read)).json()["total"] == 0
    foreign_customer = await client.post(
        f"{CRM}/opportunities",
        json={"customerId": customer_id, "name": "x"},
        headers=write_headers(tenant="t2"),
    )
    assert_error(foreign_customer, 404, "CUSTOMER_NOT_FOUND")
    unchanged = await client.get(url, headers=auth(READ))
    assert unchanged.json() == created


async def test_permissions(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await new_opportunity(client, customer_id)
    url = f"{CRM}/opportunities/{created['id']}"
    assert_error(await client.get(url), 401)
    assert_error(await client.get(url, headers=auth(("customers.read",))), 403)
    read_only = auth(READ, request_id=new_request_id())
    post = await client.post(
        f"{CRM}/opportunities", json={"customerId": customer_id, "name": "x"}, headers=read_only
    )
    assert_error(post, 403)
    assert_error(await client.patch(url, json={"name": "y"}, headers=read_only), 403)
    assert_error(await client.delete(url, headers=auth(READ)), 403)
    allowed = await client.post(
        f"{CRM}/opportunities",
        json={"customerId": customer_id, "name": "x"},
        headers=auth(WRITE, request_id=new_request_id()),
    )
    assert allowed.status_code == 201


async def test_changes_are_announced_in_order(runtime: Runtime, client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await new_opportunity(client, customer_id)
    url = f"{CRM}/opportunities/{created['id']}"
    await client.patch(url, json={"stage": "won"}, headers=write_headers())
    await client.delete(url, headers=auth(WRITE))
    events = [
        m
        for m in await published(runtime, runtime.parts.topics.customer_events)
        if m["value"]["type"].startswith("crm.opportunity.")
    ]
    assert [m["value"]["type"] for m in events] == [
        "crm.opportunity.created",
        "crm.opportunity.updated",
        "crm.opportunity.deleted",
    ]
    assert {m["key"] for m in events} == {f"t1:{customer_id}"}
    assert {m["value"]["subject"] for m in events} == {created["id"]}
    sequences = [m["value"]["sequence"] for m in events]
    assert sequences == sorted(sequences)
    assert events[1]["value"]["data"]["stage"] == "won"
