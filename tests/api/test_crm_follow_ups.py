"""CRM API follow-up records through HTTP: every route, its rules and its errors."""

import httpx
import pytest

from tests.api.test_crm_opportunities import (
    CRM,
    READ,
    WRITE,
    assert_error,
    create,
    new_customer,
    new_opportunity,
    write_headers,
)
from tests.helpers import auth


async def new_follow_up(
    client: httpx.AsyncClient, customer_id: str, tenant: str = "t1", **fields: object
) -> dict:
    body = {"customerId": customer_id, "method": "call", "content": "called", **fields}
    return await create(client, "/follow-ups", body, tenant=tenant)


async def test_create_read_and_list(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    opportunity = await new_opportunity(client, customer_id)
    created = await new_follow_up(
        client,
        customer_id,
        opportunityId=opportunity["id"],
        method="visit",
        content="上门拜访",
        followedAt="2026-11-20T09:30:00Z",
        nextFollowUpAt="2026-11-27T09:30:00+08:00",
    )
    assert created["customerId"] == customer_id
    assert created["opportunityId"] == opportunity["id"]
    assert created["method"] == "visit"
    assert created["content"] == "上门拜访"
    assert created["followedAt"] == "2026-11-20T09:30:00.000Z"
    assert created["nextFollowUpAt"] == "2026-11-27T01:30:00.000Z"  # stored in UTC
    for base in (CRM, ""):
        detail = await client.get(f"{base}/follow-ups/{created['id']}", headers=auth(READ))
        assert detail.status_code == 200
        assert detail.json() == created
    listed = await client.get(f"{CRM}/follow-ups", headers=auth(READ))
    assert listed.json() == {"items": [created], "total": 1, "page": 1, "pageSize": 20}


async def test_defaults(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    response = await client.post(
        f"{CRM}/follow-ups",
        json={"customerId": customer_id, "content": "note"},
        headers=write_headers(),
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["method"] == "other"
    assert created["opportunityId"] is None
    assert created["nextFollowUpAt"] is None
    assert created["followedAt"] == created["createdAt"]  # now


async def test_list_filters_by_customer_and_opportunity(client: httpx.AsyncClient) -> None:
    first, second = await new_customer(client), await new_customer(client)
    opportunity = await new_opportunity(client, first)
    about_deal = await new_follow_up(client, first, opportunityId=opportunity["id"])
    plain = await new_follow_up(client, first)
    other = await new_follow_up(client, second)

    async def ids(**params: str) -> set[str]:
        body = (await client.get(f"{CRM}/follow-ups", params=params, headers=auth(READ))).json()
        assert body["total"] == len(body["items"])
        return {item["id"] for item in body["items"]}

    assert await ids() == {about_deal["id"], plain["id"], other["id"]}
    assert await ids(customerId=first) == {about_deal["id"], plain["id"]}
    assert await ids(opportunityId=opportunity["id"]) == {about_deal["id"]}
    assert await ids(customerId=second, opportunityId=opportunity["id"]) == set()


@pytest.mark.parametrize(
    "body",
    [
        {"content": "no customer"},
        {"customerId": "c"},
        {"customerId": "c", "content": "   "},
        {"customerId": "c", "content": "x", "method": "fax"},
        {"customerId": "c", "content": "x", "followedAt": "yesterday"},
        {"customerId": "c", "content": "x" * 5001},
    ],
)
async def test_create_rejects_invalid_bodies(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post(f"{CRM}/follow-ups", json=body, headers=write_headers())
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_every_method_is_accepted(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    for method in ("call", "visit", "email", "im", "other"):
        assert (await new_follow_up(client, customer_id, method=method))["method"] == method


async def test_customer_and_opportunity_must_exist_and_match(client: httpx.AsyncClient) -> None:
    customer_id, other_customer = await new_customer(client), await new_customer(client)
    others_deal = await new_opportunity(client, other_customer)
    url = f"{CRM}/follow-ups"
    unknown_customer = await client.post(
        url, json={"customerId": "nope", "content": "x"}, headers=write_headers()
    )
    assert_error(unknown_customer, 404, "CUSTOMER_NOT_FOUND")
    unknown_deal = await client.post(
        url,
        json={"customerId": customer_id, "content": "x", "opportunityId": "nope"},
        headers=write_headers(),
    )
    assert_error(unknown_deal, 404, "OPPORTUNITY_NOT_FOUND")
    mismatch = await client.post(
        url,
        json={"customerId": customer_id, "content": "x", "opportunityId": others_deal["id"]},
        headers=write_headers(),
    )
    assert_error(mismatch, 400, "OPPORTUNITY_CUSTOMER_MISMATCH")
    await client.delete(f"{CRM}/opportunities/{others_deal['id']}", headers=auth(WRITE))
    deleted_deal = await client.post(
        url,
        json={"customerId": other_customer, "content": "x", "opportunityId": others_deal["id"]},
        headers=write_headers(),
    )
    assert_error(deleted_deal, 404, "OPPORTUNITY_NOT_FOUND")
    assert (await client.get(url, headers=auth(READ))).json()["total"] == 0


async def test_update(client: httpx.AsyncClient) -> None:
    customer_id, other_customer = await new_customer(client), await new_customer(client)
    deal = await new_opportunity(client, customer_id)
    others_deal = await new_opportunity(client, other_customer)
    created = await new_follow_up(client, customer_id, nextFollowUpAt="2026-12-01T00:00:00Z")
    url = f"{CRM}/follow-ups/{created['id']}"
    response = await client.patch(
        url,
        json={"content": "回访", "method": "im", "opportunityId": deal["id"]},
        headers=write_headers(),
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["content"], updated["method"], updated["opportunityId"]) == (
        "回访",
        "im",
        deal["id"],
    )
    assert updated["nextFollowUpAt"] == "2026-12-01T00:00:00.000Z"
    assert (await client.get(url, headers=auth(READ))).json() == updated
    cleared = await client.patch(
        url, json={"opportunityId": None, "nextFollowUpAt": None}, headers=write_headers()
    )
    assert cleared.json()["opportunityId"] is None
    assert cleared.json()["nextFollowUpAt"] is None

    mismatch = await client.patch(
        url, json={"opportunityId": others_deal["id"]}, headers=write_headers()
    )
    assert_error(mismatch, 400, "OPPORTUNITY_CUSTOMER_MISMATCH")
    unknown = await client.patch(url, json={"opportunityId": "nope"}, headers=write_headers())
    assert_error(unknown, 404, "OPPORTUNITY_NOT_FOUND")
    for body in ({"method": "fax"}, {"content": None}, {"followedAt": None}):
        assert_error(await client.patch(url, json=body, headers=write_headers()), 400)
    no_key = await client.patch(url, json={"content": "x"}, headers=auth())
    assert_error(no_key, 400, "REQUEST_ID_REQUIRED")


async def test_delete(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await new_follow_up(client, customer_id)
    url = f"{CRM}/follow-ups/{created['id']}"
    deleted = await client.delete(url, headers=auth(WRITE))
    assert deleted.status_code == 200
    assert deleted.json() == {"id": created["id"], "deleted": True}
    assert_error(await client.get(url, headers=auth(READ)), 404, "FOLLOW_UP_NOT_FOUND")
    assert_error(await client.delete(url, headers=auth(WRITE)), 404, "FOLLOW_UP_NOT_FOUND")
    assert (await client.get(f"{CRM}/follow-ups", headers=auth(READ))).json()["total"] == 0
    missing = f"{CRM}/follow-ups/no-such-id"
    assert_error(await client.get(missing, headers=auth(READ)), 404, "FOLLOW_UP_NOT_FOUND")
    assert_error(await client.patch(missing, json={"content": "x"}, headers=write_headers()), 404)


async def test_same_request_id_creates_once(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    headers = auth(request_id="follow-up-retry")
    body = {"customerId": customer_id, "content": "retried", "method": "email"}
    first = await client.post(f"{CRM}/follow-ups", json=body, headers=headers)
    again = await client.post(f"{CRM}/follow-ups", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert (await client.get(f"{CRM}/follow-ups", headers=auth(READ))).json()["total"] == 1
    reused = await client.post(
        f"{CRM}/follow-ups", json={**body, "content": "other"}, headers=headers
    )
    assert_error(reused, 409, "IDEMPOTENCY_KEY_REUSED")


async def test_tenants_never_see_each_other(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    deal = await new_opportunity(client, customer_id)
    created = await new_follow_up(client, customer_id)
    url = f"{CRM}/follow-ups/{created['id']}"
    assert_error(await client.get(url, headers=auth(READ, tenant="t2")), 404)
    assert_error(
        await client.patch(url, json={"content": "x"}, headers=write_headers(tenant="t2")), 404
    )
    assert_error(await client.delete(url, headers=auth(WRITE, tenant="t2")), 404)
    listed = await client.get(
        f"{CRM}/follow-ups", params={"customerId": customer_id}, headers=auth(READ, tenant="t2")
    )
    assert listed.json()["total"] == 0
    t2_customer = await new_customer(client, tenant="t2")
    foreign_deal = await client.post(
        f"{CRM}/follow-ups",
        json={"customerId": t2_customer, "content": "x", "opportunityId": deal["id"]},
        headers=write_headers(tenant="t2"),
    )
    assert_error(foreign_deal, 404, "OPPORTUNITY_NOT_FOUND")
    assert (await client.get(url, headers=auth(READ))).json() == created


async def test_permissions(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await new_follow_up(client, customer_id)
    assert_error(await client.get(f"{CRM}/follow-ups", headers=auth(("customers.read",))), 403)
    post = await client.post(
        f"{CRM}/follow-ups",
        json={"customerId": customer_id, "content": "x"},
        headers=auth(READ, request_id="r-1"),
    )
    assert_error(post, 403)
    assert_error(await client.delete(f"{CRM}/follow-ups/{created['id']}", headers=auth(READ)), 403)
