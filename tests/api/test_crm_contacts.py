"""CRM API contacts through HTTP: list, detail, create, update, delete; one primary per customer."""

import asyncio

import httpx
import pytest

from crm.runtime import Runtime
from tests.conftest import published
from tests.helpers import auth, new_request_id

BASE = "/api/v1/crm"
READ = ("customers.read",)
WRITE = ("customers.write",)
RW = ("customers.read", "customers.write")
PII = ("customers.read", "customers.pii")


def writer(
    permissions: tuple[str, ...] = RW, *, tenant: str = "t1", request_id: str | None = None
) -> dict[str, str]:
    return auth(permissions, tenant=tenant, request_id=request_id or new_request_id())


async def customer(client: httpx.AsyncClient, name: str = "Acme", *, tenant: str = "t1") -> str:
    response = await client.post(
        f"{BASE}/customers", json={"name": name}, headers=writer(tenant=tenant)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def contact(
    client: httpx.AsyncClient, customer_id: str, name: str = "Zhang", **fields: object
) -> dict:
    response = await client.post(
        f"{BASE}/contacts",
        json={"customerId": customer_id, "name": name, **fields},
        headers=writer(),
    )
    assert response.status_code == 201, response.text
    body: dict = response.json()
    return body


async def read(client: httpx.AsyncClient, contact_id: str) -> dict:
    response = await client.get(f"{BASE}/contacts/{contact_id}", headers=auth(READ))
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def listing(client: httpx.AsyncClient, **params: object) -> dict:
    response = await client.get(f"{BASE}/contacts", params=params, headers=auth(READ))
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


@pytest.mark.parametrize("prefix", [BASE, ""])
async def test_create_and_read(client: httpx.AsyncClient, prefix: str) -> None:
    cid = await customer(client)
    body = {
        "customerId": cid,
        "name": "张三",
        "phone": "13812345678",
        "email": "z@example.com",
        "title": "采购经理",
    }
    response = await client.post(f"{prefix}/contacts", json=body, headers=writer())
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"]
    assert created["customerId"] == cid
    assert (created["name"], created["email"], created["title"]) == (
        "张三",
        "z@example.com",
        "采购经理",
    )
    assert created["isPrimary"] is False
    assert created["phone"] == "138****5678"
    assert created["createdAt"] and created["updatedAt"]
    assert "_id" not in created and "tenantId" not in created
    detail = await client.get(f"{prefix}/contacts/{created['id']}", headers=auth(READ))
    assert detail.status_code == 200
    assert detail.json() == created


async def test_phone_is_masked_unless_pii(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    created = await contact(client, cid, phone="13812345678")
    url = f"{BASE}/contacts/{created['id']}"
    assert (await client.get(url, headers=auth(PII))).json()["phone"] == "13812345678"
    listed = await client.get(f"{BASE}/contacts", headers=auth(READ))
    assert listed.json()["items"][0]["phone"] == "138****5678"
    listed_pii = await client.get(f"{BASE}/contacts", headers=auth(PII))
    assert listed_pii.json()["items"][0]["phone"] == "13812345678"
    patched = await client.patch(url, json={"title": "CTO"}, headers=writer())
    assert patched.json()["phone"] == "138****5678"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "No customer"},
        {"customerId": "c1"},
        {"customerId": "", "name": "x"},
        {"customerId": "c1", "name": ""},
        {"customerId": "c1", "name": "x", "phone": "call me"},
        {"customerId": "c1", "name": "x", "email": "nope"},
        {"customerId": "c1", "name": "x", "isPrimary": "maybe"},
        {"customerId": "c1", "name": "x" * 201},
        [],
    ],
)
async def test_create_rejects_invalid_bodies(client: httpx.AsyncClient, body: object) -> None:
    response = await client.post(f"{BASE}/contacts", json=body, headers=writer())
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_create_needs_an_existing_customer(client: httpx.AsyncClient) -> None:
    missing = await client.post(
        f"{BASE}/contacts", json={"customerId": "nope", "name": "x"}, headers=writer()
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "CUSTOMER_NOT_FOUND"
    other_tenant = await customer(client, tenant="t2")
    foreign = await client.post(
        f"{BASE}/contacts", json={"customerId": other_tenant, "name": "x"}, headers=writer()
    )
    assert foreign.status_code == 404
    deleted = await customer(client, "Deleted")
    await client.delete(f"{BASE}/customers/{deleted}", headers=auth(WRITE))
    gone = await client.post(
        f"{BASE}/contacts", json={"customerId": deleted, "name": "x"}, headers=writer()
    )
    assert gone.status_code == 404
    assert (await listing(client))["total"] == 0


async def test_list_filters_by_customer_and_pages(client: httpx.AsyncClient) -> None:
    first = await customer(client, "First")
    second = await customer(client, "Second")
    for i in range(22):
        await contact(client, first, f"f{i}")
    await contact(client, second, "s0")
    everything = await listing(client)
    assert (everything["total"], everything["page"], everything["pageSize"]) == (23, 1, 20)
    assert len(everything["items"]) == 20
    of_first = await listing(client, customerId=first)
    assert of_first["total"] == 22
    rest = await listing(client, customerId=first, page=2)
    ids = [c["id"] for c in of_first["items"] + rest["items"]]
    assert len(set(ids)) == 22
    assert {c["customerId"] for c in of_first["items"] + rest["items"]} == {first}
    of_second = await listing(client, customerId=second)
    assert [c["name"] for c in of_second["items"]] == ["s0"]
    assert (await listing(client, customerId="nope"))["total"] == 0
    too_big = await client.get(f"{BASE}/contacts", params={"pageSize": 101}, headers=auth(READ))
    assert too_big.status_code == 400


async def test_patch_changes_only_present_fields(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    created = await contact(client, cid, phone="13812345678", email="z@example.com", title="T")
    url = f"{BASE}/contacts/{created['id']}"
    response = await client.patch(url, json={"title": "CEO", "email": None}, headers=writer())
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["title"] == "CEO"
    assert "email" not in updated
    assert updated["phone"] == "138****5678"
    assert updated["name"] == "Zhang"
    assert await read(client, created["id"]) == updated
    for body in ({"name": None}, {"customerId": None}, {"isPrimary": None}, {"phone": "x"}):
        bad = await client.patch(url, json=body, headers=writer())
        assert bad.status_code == 400, body


async def test_patch_can_move_a_contact_to_another_customer(client: httpx.AsyncClient) -> None:
    first = await customer(client, "First")
    second = await customer(client, "Second")
    created = await contact(client, first)
    url = f"{BASE}/contacts/{created['id']}"
    moved = await client.patch(url, json={"customerId": second}, headers=writer())
    assert moved.status_code == 200
    assert moved.json()["customerId"] == second
    assert (await listing(client, customerId=first))["total"] == 0
    assert (await listing(client, customerId=second))["total"] == 1
    nowhere = await client.patch(url, json={"customerId": "nope"}, headers=writer())
    assert nowhere.status_code == 404
    assert nowhere.json()["code"] == "CUSTOMER_NOT_FOUND"
    foreign = await customer(client, tenant="t2")
    other_tenant = await client.patch(url, json={"customerId": foreign}, headers=writer())
    assert other_tenant.status_code == 404


async def test_unknown_contact_is_404(client: httpx.AsyncClient) -> None:
    url = f"{BASE}/contacts/nope"
    for method, body in [("GET", None), ("PATCH", {"title": "x"}), ("DELETE", None)]:
        response = await client.request(method, url, json=body, headers=writer())
        assert response.status_code == 404, method
        assert response.json()["code"] == "CONTACT_NOT_FOUND"


async def test_delete_is_soft(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    created = await contact(client, cid)
    url = f"{BASE}/contacts/{created['id']}"
    response = await client.delete(url, headers=auth(WRITE))
    assert response.status_code == 200
    assert response.json() == {"id": created["id"], "deleted": True}
    assert (await client.get(url, headers=auth(READ))).status_code == 404
    assert (await listing(client))["total"] == 0
    assert (await client.delete(url, headers=auth(WRITE))).status_code == 404
    assert (await client.patch(url, json={"title": "x"}, headers=writer())).status_code == 404


async def test_one_primary_contact_per_customer(client: httpx.AsyncClient) -> None:
    cid = await customer(client, "Main")
    other_customer = await customer(client, "Other")
    first = await contact(client, cid, "A", isPrimary=True)
    assert first["isPrimary"] is True
    elsewhere = await contact(client, other_customer, "X", isPrimary=True)
    second = await contact(client, cid, "B", isPrimary=True)
    assert second["isPrimary"] is True
    assert (await read(client, first["id"]))["isPrimary"] is False
    assert (await read(client, elsewhere["id"]))["isPrimary"] is True  # other customer untouched
    third = await contact(client, cid, "C")
    promoted = await client.patch(
        f"{BASE}/contacts/{third['id']}", json={"isPrimary": True}, headers=writer()
    )
    assert promoted.json()["isPrimary"] is True
    primaries = [
        c["name"] for c in (await listing(client, customerId=cid))["items"] if c["isPrimary"]
    ]
    assert primaries == ["C"]
    demoted = await client.patch(
        f"{BASE}/contacts/{third['id']}", json={"isPrimary": False}, headers=writer()
    )
    assert demoted.json()["isPrimary"] is False
    items = (await listing(client, customerId=cid))["items"]
    assert not any(c["isPrimary"] for c in items)


async def test_moving_a_primary_contact_demotes_the_new_customers_primary(
    client: httpx.AsyncClient,
) -> None:
    first = await customer(client, "First")
    second = await customer(client, "Second")
    mover = await contact(client, first, "Mover", isPrimary=True)
    resident = await contact(client, second, "Resident", isPrimary=True)
    await client.patch(
        f"{BASE}/contacts/{mover['id']}", json={"customerId": second}, headers=writer()
    )
    assert (await read(client, mover["id"]))["isPrimary"] is True
    assert (await read(client, resident["id"]))["isPrimary"] is False


async def test_writes_publish_contact_events(client: httpx.AsyncClient, runtime: Runtime) -> None:
    cid = await customer(client)
    first = await contact(client, cid, "A", isPrimary=True)
    second = await contact(client, cid, "B", isPrimary=True)
    await client.delete(f"{BASE}/contacts/{second['id']}", headers=auth(WRITE))
    events = [
        m["value"]
        for m in await published(runtime, runtime.parts.topics.customer_events)
        if m["value"]["type"].startswith("crm.contact.")
    ]
    assert [(e["type"], e["subject"]) for e in events] == [
        ("crm.contact.created", first["id"]),
        ("crm.contact.created", second["id"]),
        ("crm.contact.updated", first["id"]),
        ("crm.contact.deleted", second["id"]),
    ]
    assert events[2]["data"]["isPrimary"] is False
    assert {e["tenantid"] for e in events} == {"t1"}
    sequences = [e["sequence"] for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == 4


async def test_permissions(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    created = await contact(client, cid)
    url = f"{BASE}/contacts/{created['id']}"
    crm_only = ("crm.read", "crm.write")
    for path in (f"{BASE}/contacts", url):
        assert (await client.get(path, headers=auth(WRITE))).status_code == 403
        assert (await client.get(path, headers=auth(crm_only))).status_code == 403
    for method, path, body in [
        ("POST", f"{BASE}/contacts", {"customerId": cid, "name": "N"}),
        ("PATCH", url, {"title": "x"}),
        ("DELETE", url, None),
    ]:
        denied = await client.request(method, path, json=body, headers=writer(READ))
        assert denied.status_code == 403, method
        denied = await client.request(method, path, json=body, headers=writer(crm_only))
        assert denied.status_code == 403, method
    assert await read(client, created["id"]) == created  # the refused writes changed nothing


async def test_tenant_isolation(client: httpx.AsyncClient) -> None:
    theirs_customer = await customer(client, tenant="t2")
    response = await client.post(
        f"{BASE}/contacts",
        json={"customerId": theirs_customer, "name": "Theirs"},
        headers=writer(tenant="t2"),
    )
    theirs = response.json()
    url = f"{BASE}/contacts/{theirs['id']}"
    assert (await client.get(url, headers=auth(READ))).status_code == 404
    assert (await client.patch(url, json={"title": "x"}, headers=writer())).status_code == 404
    assert (await client.delete(url, headers=auth(WRITE))).status_code == 404
    assert (await listing(client))["total"] == 0
    assert (await listing(client, customerId=theirs_customer))["total"] == 0
    still = await client.get(url, headers=auth(READ, tenant="t2"))
    assert still.status_code == 200
    assert "title" not in still.json()


async def test_create_is_idempotent_per_request_id(client: httpx.AsyncClient) -> None:
    cid = await customer(client)
    headers = writer()
    body = {"customerId": cid, "name": "Once"}
    first = await client.post(f"{BASE}/contacts", json=body, headers=headers)
    second = await client.post(f"{BASE}/contacts", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    other_body = await client.post(
        f"{BASE}/contacts", json={**body, "name": "Twice"}, headers=headers
    )
    assert other_body.status_code == 409
    assert other_body.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    concurrent_headers = writer()
    answers = await asyncio.gather(
        *[
            client.post(
                f"{BASE}/contacts",
                json={"customerId": cid, "name": "Racy"},
                headers=concurrent_headers,
            )
            for _ in range(8)
        ]
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    names = sorted(c["name"] for c in (await listing(client))["items"])
    assert names == ["Once", "Racy"]


async def test_update_and_delete_repeats_return_the_first_result(
    client: httpx.AsyncClient,
) -> None:
    cid = await customer(client)
    created = await contact(client, cid)
    url = f"{BASE}/contacts/{created['id']}"
    patch_headers = writer()
    first = await client.patch(url, json={"title": "CEO"}, headers=patch_headers)
    second = await client.patch(url, json={"title": "CEO"}, headers=patch_headers)
    assert first.json() == second.json()
    reused = await client.patch(url, json={"title": "CTO"}, headers=patch_headers)
    assert reused.status_code == 409
    delete_headers = auth(WRITE, request_id=new_request_id())
    gone = await client.delete(url, headers=delete_headers)
    repeat = await client.delete(url, headers=delete_headers)
    assert gone.status_code == repeat.status_code == 200
    assert repeat.json() == {"id": created["id"], "deleted": True}
    late_patch_repeat = await client.patch(url, json={"title": "CEO"}, headers=patch_headers)
    assert late_patch_repeat.status_code == 200
    assert late_patch_repeat.json() == first.json()
