"""CRM API customers through HTTP: list, detail, create, update, delete, import, export."""

import httpx
import pytest

from tests.helpers import auth, new_request_id

BASE = "/api/v1/crm"
READ = ("customers.read",)
WRITE = ("customers.write",)
RW = ("customers.read", "customers.write")
PII = ("customers.read", "customers.pii")


def writer(
    permissions: tuple[str, ...] = RW, *, tenant: str = "t1", sub: str = "u1", **headers: str
) -> dict[str, str]:
    """Write headers with a fresh X-Request-ID."""
    return auth(permissions, tenant=tenant, sub=sub, request_id=new_request_id(), **headers)


async def create(
    client: httpx.AsyncClient, name: str = "Acme", *, tenant: str = "t1", **fields: object
) -> dict:
    response = await client.post(
        f"{BASE}/customers", json={"name": name, **fields}, headers=writer(tenant=tenant)
    )
    assert response.status_code == 201, response.text
    body: dict = response.json()
    return body


async def listing(client: httpx.AsyncClient, url: str, **params: object) -> dict:
    response = await client.get(url, params=params, headers=auth(READ))
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


# --- create / detail -------------------------------------------------------------------


@pytest.mark.parametrize("prefix", [BASE, ""])
async def test_create_answers_201_with_the_whole_object(
    client: httpx.AsyncClient, prefix: str
) -> None:
    body = {
        "name": "上海示例科技",
        "phone": "13812345678",
        "email": "a@example.com",
        "company": "Example",
        "industry": "software",
        "level": "A",
        "source": "website",
        "address": "Shanghai",
        "remark": "key account",
        "tags": ["vip"],
    }
    response = await client.post(f"{prefix}/customers", json=body, headers=writer())
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"]
    assert created["ownerId"] == "u1"  # token sub when neither body nor X-User-Id says
    assert created["phone"] == "138****5678"  # write responses are masked too
    assert created["createdAt"] and created["updatedAt"]
    for field in ("name", "email", "company", "industry", "level", "source", "address", "remark"):
        assert created[field] == body[field]
    assert created["tags"] == ["vip"]
    assert "_id" not in created and "tenantId" not in created
    detail = await client.get(f"{prefix}/customers/{created['id']}", headers=auth(READ))
    assert detail.status_code == 200
    assert detail.json() == created


async def test_owner_defaults_to_x_user_id_then_body_wins(client: httpx.AsyncClient) -> None:
    by_header = await client.post(
        f"{BASE}/customers", json={"name": "A"}, headers=writer(X_User_Id="sales-7")
    )
    assert by_header.json()["ownerId"] == "sales-7"
    explicit = await client.post(
        f"{BASE}/customers",
        json={"name": "B", "ownerId": "sales-9"},
        headers=writer(X_User_Id="sales-7"),
    )
    assert explicit.json()["ownerId"] == "sales-9"


async def test_detail_masks_phone_unless_pii(client: httpx.AsyncClient) -> None:
    created = await create(client, phone="13812345678")
    url = f"{BASE}/customers/{created['id']}"
    assert (await client.get(url, headers=auth(READ))).json()["phone"] == "138****5678"
    assert (await client.get(url, headers=auth(PII))).json()["phone"] == "13812345678"
    pii_write = await client.post(
        f"{BASE}/customers",
        json={"name": "P", "phone": "13900001111"},
        headers=writer((*RW, "customers.pii")),
    )
    assert pii_write.json()["phone"] == "13900001111"


async def test_unknown_customer_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/customers/nope", headers=auth(READ))
    assert response.status_code == 404
    assert response.json()["code"] == "CUSTOMER_NOT_FOUND"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"name": "A", "email": "not-an-email"},
        {"name": "A", "phone": "call me"},
        {"name": "A", "tags": "not-a-list"},
        {"name": "A", "tags": ["x"] * 51},
        [1, 2],
        "text",
    ],
)
async def test_create_rejects_invalid_bodies_with_400(
    client: httpx.AsyncClient, body: object
) -> None:
    response = await client.post(f"{BASE}/customers", json=body, headers=writer())
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_duplicate_name_after_trim_and_casefold_is_409(client: httpx.AsyncClient) -> None:
    await create(client, "Acme Corp")
    for name in ("Acme Corp", "  acme corp ", "ACME   CORP"):
        response = await client.post(f"{BASE}/customers", json={"name": name}, headers=writer())
        assert response.status_code == 409, name
        error = response.json()
        assert error["code"] == "DUPLICATE_CUSTOMER_NAME"
        assert error["message"] == "客户名称已存在"
    other_tenant = await client.post(
        f"{BASE}/customers", json={"name": "Acme Corp"}, headers=writer(tenant="t2")
    )
    assert other_tenant.status_code == 201  # unique per tenant only


# --- list ------------------------------------------------------------------------------


async def test_list_pages_in_a_stable_order(client: httpx.AsyncClient) -> None:
    for i in range(25):
        await create(client, f"c{i:02d}")
    first = await listing(client, f"{BASE}/customers")
    assert (first["total"], first["page"], first["pageSize"]) == (25, 1, 20)
    assert len(first["items"]) == 20
    second = await listing(client, f"{BASE}/customers", page=2)
    assert len(second["items"]) == 5
    ids = [c["id"] for c in first["items"] + second["items"]]
    assert len(set(ids)) == 25  # no item twice, none missing
    again = await listing(client, f"{BASE}/customers", page=1)
    assert [c["id"] for c in again["items"]] == ids[:20]
    small = await listing(client, f"{BASE}/customers", page=3, pageSize=10)
    assert [c["id"] for c in small["items"]] == ids[20:]
    beyond = await listing(client, f"{BASE}/customers", page=9)
    assert beyond["items"] == [] and beyond["total"] == 25


async def test_list_masks_phones(client: httpx.AsyncClient) -> None:
    await create(client, phone="13812345678")
    items = (await listing(client, f"{BASE}/customers"))["items"]
    assert items[0]["phone"] == "138****5678"
    pii = await client.get(f"{BASE}/customers", headers=auth(PII))
    assert pii.json()["items"][0]["phone"] == "13812345678"


@pytest.mark.parametrize(
    "params", [{"pageSize": 101}, {"pageSize": 0}, {"page": 0}, {"page": "x"}, {"pageSize": -1}]
)
async def test_list_rejects_bad_paging(client: httpx.AsyncClient, params: dict) -> None:
    response = await client.get(f"{BASE}/customers", params=params, headers=auth(READ))
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_list_max_page_size_is_100(client: httpx.AsyncClient) -> None:
    body = await listing(client, f"{BASE}/customers", pageSize=100)
    assert body["pageSize"] == 100


async def test_x_user_id_narrows_the_list_to_that_owner(client: httpx.AsyncClient) -> None:
    await create(client, "mine-1", ownerId="alice")
    await create(client, "mine-2", ownerId="alice")
    await create(client, "theirs", ownerId="bob")
    response = await client.get(f"{BASE}/customers", headers=auth(READ, X_User_Id="alice"))
    body = response.json()
    assert body["total"] == 2
    assert {c["name"] for c in body["items"]} == {"mine-1", "mine-2"}
    everyone = await listing(client, f"{BASE}/customers")
    assert everyone["total"] == 3


# --- update ----------------------------------------------------------------------------


async def test_patch_changes_only_present_fields(client: httpx.AsyncClient) -> None:
    created = await create(client, phone="13812345678", level="A", remark="r", tags=["t"])
    url = f"{BASE}/customers/{created['id']}"
    response = await client.patch(url, json={"level": "B", "remark": None}, headers=writer())
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["level"] == "B"
    assert "remark" not in updated  # an explicit null clears
    assert updated["tags"] == ["t"]
    assert updated["phone"] == "138****5678"
    assert updated["name"] == "Acme"
    assert updated["updatedAt"] >= created["updatedAt"]
    assert (await client.get(url, headers=auth(READ))).json() == updated


async def test_patch_rename_and_name_rules(client: httpx.AsyncClient) -> None:
    first = await create(client, "First")
    await create(client, "Second")
    url = f"{BASE}/customers/{first['id']}"
    taken = await client.patch(url, json={"name": " second "}, headers=writer())
    assert taken.status_code == 409
    assert taken.json()["message"] == "客户名称已存在"
    same_name_other_case = await client.patch(url, json={"name": "FIRST"}, headers=writer())
    assert same_name_other_case.status_code == 200
    assert same_name_other_case.json()["name"] == "FIRST"
    renamed = await client.patch(url, json={"name": "Third"}, headers=writer())
    assert renamed.json()["name"] == "Third"
    freed = await client.post(f"{BASE}/customers", json={"name": "first"}, headers=writer())
    assert freed.status_code == 201
    null_name = await client.patch(url, json={"name": None}, headers=writer())
    assert null_name.status_code == 400
    bad_email = await client.patch(url, json={"email": "nope"}, headers=writer())
    assert bad_email.status_code == 400


async def test_patch_unknown_customer_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"{BASE}/customers/nope", json={"level": "A"}, headers=writer())
    assert response.status_code == 404
    assert response.json()["code"] == "CUSTOMER_NOT_FOUND"
    too_long = await client.patch(f"{BASE}/customers/{'x' * 129}", json={}, headers=writer())
    assert too_long.status_code == 400


# --- delete ----------------------------------------------------------------------------


async def test_delete_is_soft_then_404_and_the_name_is_free(client: httpx.AsyncClient) -> None:
    created = await create(client, "Gone Ltd")
    url = f"{BASE}/customers/{created['id']}"
    response = await client.delete(url, headers=auth(WRITE))
    assert response.status_code == 200
    assert response.json() == {"id": created["id"], "deleted": True}
    assert (await client.get(url, headers=auth(READ))).status_code == 404
    assert (await listing(client, f"{BASE}/customers"))["total"] == 0
    assert (await client.patch(url, json={"level": "A"}, headers=writer())).status_code == 404
    again = await client.delete(url, headers=auth(WRITE))
    assert again.status_code == 404
    reused = await client.post(f"{BASE}/customers", json={"name": "gone ltd"}, headers=writer())
    assert reused.status_code == 201
    assert reused.json()["id"] != created["id"]


async def test_delete_unknown_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{BASE}/customers/nope", headers=auth(WRITE))
    assert response.status_code == 404
    assert response.json()["code"] == "CUSTOMER_NOT_FOUND"


# --- import ----------------------------------------------------------------------------


async def test_import_reports_each_item(client: httpx.AsyncClient) -> None:
    await create(client, "Stored Co")
    items = [
        {"name": "New One", "phone": "13812345678"},
        {"name": " stored co "},  # duplicate of stored data
        {"name": "new one"},  # duplicate of item 0 in the batch
        {"phone": "13812345678"},  # no name
        "not an object",
        42,
        None,
        {"name": "A", "email": "bad"},
        {"name": "Second New", "tags": ["x"]},
    ]
    response = await client.post(
        f"{BASE}/customers/import", json={"items": items}, headers=writer()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["created"], body["duplicate"], body["invalid"]) == (9, 2, 2, 5)
    statuses = [(i["index"], i["status"]) for i in body["items"]]
    assert statuses == [
        (0, "created"),
        (1, "duplicate"),
        (2, "duplicate"),
        (3, "invalid"),
        (4, "invalid"),
        (5, "invalid"),
        (6, "invalid"),
        (7, "invalid"),
        (8, "created"),
    ]
    for item in body["items"]:
        if item["status"] == "created":
            assert item["id"] and "error" not in item
        else:
            assert item["error"] and "id" not in item
    assert body["items"][1]["error"] == "客户名称已存在"
    assert "name" in body["items"][3]["error"]
    assert body["items"][4]["error"] == "item: must be a JSON object"
    created_id = body["items"][0]["id"]
    detail = await client.get(f"{BASE}/customers/{created_id}", headers=auth(READ))
    assert detail.status_code == 200
    assert detail.json()["name"] == "New One"
    assert detail.json()["phone"] == "138****5678"
    assert detail.json()["ownerId"] == "u1"
    assert (await listing(client, f"{BASE}/customers"))["total"] == 3


async def test_import_owner_defaults_to_x_user_id(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{BASE}/customers/import",
        json={"items": [{"name": "A"}, {"name": "B", "ownerId": "bob"}]},
        headers=writer(X_User_Id="alice"),
    )
    ids = [item["id"] for item in response.json()["items"]]
    owners = [
        (await client.get(f"{BASE}/customers/{i}", headers=auth(READ))).json()["ownerId"]
        for i in ids
    ]
    assert owners == ["alice", "bob"]


@pytest.mark.parametrize("body", [{"items": []}, {}, {"items": "x"}, {"items": {"name": "A"}}])
async def test_import_rejects_bad_bodies(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post(f"{BASE}/customers/import", json=body, headers=writer())
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_import_of_2001_items_is_400(client: httpx.AsyncClient) -> None:
    items = [{"name": f"c{i}"} for i in range(2001)]
    response = await client.post(
        f"{BASE}/customers/import", json={"items": items}, headers=writer()
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert (await listing(client, f"{BASE}/customers"))["total"] == 0


async def test_import_of_2000_items_creates_them_all(client: httpx.AsyncClient) -> None:
    items = [{"name": f"customer {i}", "phone": "13812345678"} for i in range(2000)]
    response = await client.post(
        f"{BASE}/customers/import", json={"items": items}, headers=writer()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["created"], body["duplicate"], body["invalid"]) == (
        2000,
        2000,
        0,
        0,
    )
    assert len({item["id"] for item in body["items"]}) == 2000
    export = await listing(client, f"{BASE}/customers/export", pageSize=1000, page=2)
    assert export["total"] == 2000
    assert len(export["items"]) == 1000


async def test_import_needs_write_permission(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{BASE}/customers/import",
        json={"items": [{"name": "A"}]},
        headers=auth(READ, request_id=new_request_id()),
    )
    assert response.status_code == 403


async def test_import_repeat_returns_the_first_result(client: httpx.AsyncClient) -> None:
    headers = writer()
    body = {"items": [{"name": "A"}, {"name": "B"}]}
    first = await client.post(f"{BASE}/customers/import", json=body, headers=headers)
    second = await client.post(f"{BASE}/customers/import", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["created"] == 2
    assert (await listing(client, f"{BASE}/customers"))["total"] == 2


# --- export ----------------------------------------------------------------------------


async def test_export_pages_up_to_1000(client: httpx.AsyncClient) -> None:
    for i in range(3):
        await create(client, f"e{i}", phone="13812345678")
    body = await listing(client, f"{BASE}/customers/export", pageSize=1000)
    assert (body["total"], body["page"], body["pageSize"]) == (3, 1, 1000)
    assert {c["phone"] for c in body["items"]} == {"138****5678"}
    default = await listing(client, f"{BASE}/customers/export")
    assert default["pageSize"] == 20
    pages = [
        (await listing(client, f"{BASE}/customers/export", page=p, pageSize=2))["items"]
        for p in (1, 2)
    ]
    assert len({c["id"] for page in pages for c in page}) == 3
    too_big = await client.get(
        f"{BASE}/customers/export", params={"pageSize": 1001}, headers=auth(READ)
    )
    assert too_big.status_code == 400
    assert too_big.json()["code"] == "VALIDATION_ERROR"


async def test_export_route_is_not_taken_for_a_customer_id(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/customers/export", headers=auth(READ))
    assert response.status_code == 200
    assert set(response.json()) == {"items", "total", "page", "pageSize"}


# --- the customer profile API and the CRM API see the same customers ---------------------


async def test_api_a_create_is_visible_in_api_b(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/api/customers", json={"name": "From A", "phone": "13812345678"}, headers=auth()
    )
    created = response.json()["data"]
    detail = await client.get(f"{BASE}/customers/{created['id']}", headers=auth(READ))
    assert detail.status_code == 200
    assert detail.json()["name"] == "From A"
    assert detail.json()["phone"] == "138****5678"
    listed = await listing(client, f"{BASE}/customers")
    assert [c["id"] for c in listed["items"]] == [created["id"]]
    clash = await client.post(f"{BASE}/customers", json={"name": "from a"}, headers=writer())
    assert clash.status_code == 409


async def test_api_b_create_and_update_are_visible_in_api_a(client: httpx.AsyncClient) -> None:
    created = await create(client, "From B", phone="13812345678", tags=["x"])
    await client.patch(
        f"{BASE}/customers/{created['id']}", json={"email": "b@example.com"}, headers=writer()
    )
    response = await client.get(f"/api/v1/api/customers/{created['id']}", headers=auth(READ))
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["name"], data["email"], data["phone"]) == (
        "From B",
        "b@example.com",
        "138****5678",
    )
    await client.delete(f"{BASE}/customers/{created['id']}", headers=auth(WRITE))
    gone = await client.get(f"/api/v1/api/customers/{created['id']}", headers=auth(READ))
    assert gone.status_code == 404


# --- permissions and tenants -----------------------------------------------------------


async def test_permissions(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"{BASE}/customers/{created['id']}"
    crm_only = ("crm.read", "crm.write")
    for method, path, body in [
        ("GET", f"{BASE}/customers", None),
        ("GET", url, None),
        ("GET", f"{BASE}/customers/export", None),
    ]:
        denied = await client.request(method, path, json=body, headers=auth(WRITE))
        assert denied.status_code == 403, path
        denied = await client.request(method, path, json=body, headers=auth(crm_only))
        assert denied.status_code == 403, path
    for method, path, body in [
        ("POST", f"{BASE}/customers", {"name": "N"}),
        ("PATCH", url, {"level": "A"}),
        ("DELETE", url, None),
    ]:
        denied = await client.request(method, path, json=body, headers=writer(READ))
        assert denied.status_code == 403, (method, path)
        assert denied.json()["code"] == "FORBIDDEN"
    assert (await client.get(url, headers=auth(READ))).status_code == 200


async def test_tenant_isolation(client: httpx.AsyncClient) -> None:
    theirs = await create(client, "Theirs", tenant="t2")
    url = f"{BASE}/customers/{theirs['id']}"
    assert (await client.get(url, headers=auth(READ))).status_code == 404
    assert (await client.patch(url, json={"level": "A"}, headers=writer())).status_code == 404
    assert (await client.delete(url, headers=auth(WRITE))).status_code == 404
    assert (await listing(client, f"{BASE}/customers"))["total"] == 0
    assert (await listing(client, f"{BASE}/customers/export"))["total"] == 0
    imported = await client.post(
        f"{BASE}/customers/import", json={"items": [{"name": "Theirs"}]}, headers=writer()
    )
    assert imported.json()["created"] == 1  # their names do not collide with ours
    still = await client.get(url, headers=auth(READ, tenant="t2"))
    assert still.status_code == 200
    assert still.json()["name"] == "Theirs"
    assert "level" not in still.json()
    mismatch = await client.get(url, headers=auth(READ, tenant="t2", X_Tenant_Id="t1"))
    assert mismatch.status_code == 403
