"""CRM API conventions: X-Request-ID (required, idempotency key), error bodies, headers, paging."""

import asyncio
import uuid

import httpx
import pytest

from tests.helpers import auth, make_token, new_request_id

BASE = "/api/v1/crm"
READ = ("customers.read",)
RW = ("customers.read", "customers.write")

ERROR_FIELDS = {"code", "message", "details", "requestId"}


def assert_error(response: httpx.Response, status: int, code: str, request_id: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_FIELDS, body
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], str)
    assert body["requestId"] == request_id
    assert response.headers["x-request-id"] == request_id


async def total_customers(client: httpx.AsyncClient, tenant: str = "t1") -> int:
    response = await client.get(f"{BASE}/customers", headers=auth(READ, tenant=tenant))
    count: int = response.json()["total"]
    return count


# --- X-Request-ID is required on POST and PATCH ----------------------------------------


async def _ids(client: httpx.AsyncClient) -> tuple[str, str]:
    customer = await client.post(
        f"{BASE}/customers", json={"name": "Acme"}, headers=auth(RW, request_id="c-1")
    )
    contact = await client.post(
        f"{BASE}/contacts",
        json={"customerId": customer.json()["id"], "name": "Z"},
        headers=auth(RW, request_id="k-1"),
    )
    return customer.json()["id"], contact.json()["id"]


@pytest.mark.parametrize("prefix", [BASE, ""])
async def test_post_and_patch_without_request_id_are_400(
    client: httpx.AsyncClient, prefix: str
) -> None:
    customer_id, contact_id = await _ids(client)
    calls = [
        ("POST", f"{prefix}/customers", {"name": "New"}),
        ("PATCH", f"{prefix}/customers/{customer_id}", {"level": "A"}),
        ("POST", f"{prefix}/customers/import", {"items": [{"name": "Imp"}]}),
        ("POST", f"{prefix}/contacts", {"customerId": customer_id, "name": "Y"}),
        ("PATCH", f"{prefix}/contacts/{contact_id}", {"title": "CEO"}),
    ]
    for method, url, body in calls:
        for headers in (auth(RW), auth(RW, request_id=" ")):
            response = await client.request(method, url, json=body, headers=headers)
            assert response.status_code == 400, (method, url, response.text)
            error = response.json()
            assert set(error) == ERROR_FIELDS
            assert error["code"] == "REQUEST_ID_REQUIRED"
            assert response.headers["x-request-id"]  # generated for the answer
    assert await total_customers(client) == 1


async def test_delete_does_not_need_a_request_id(client: httpx.AsyncClient) -> None:
    customer_id, contact_id = await _ids(client)
    contact = await client.delete(f"{BASE}/contacts/{contact_id}", headers=auth(RW))
    assert contact.status_code == 200
    customer = await client.delete(f"{BASE}/customers/{customer_id}", headers=auth(RW))
    assert customer.status_code == 200


# --- idempotency -----------------------------------------------------------------------


async def test_repeat_returns_the_first_result_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    headers = auth(RW, request_id="create-once")
    first = await client.post(f"{BASE}/customers", json={"name": "Once"}, headers=headers)
    second = await client.post(f"{BASE}/customers", json={"name": "Once"}, headers=headers)
    # through the other mount too: the key is per tenant, not per path
    third = await client.post("/customers", json={"name": "Once"}, headers=headers)
    assert first.status_code == second.status_code == third.status_code == 201
    assert first.json() == second.json() == third.json()
    assert await total_customers(client) == 1


async def test_same_key_with_another_body_is_409(client: httpx.AsyncClient) -> None:
    headers = auth(RW, request_id="key-1")
    first = await client.post(f"{BASE}/customers", json={"name": "One"}, headers=headers)
    assert first.status_code == 201
    reused = await client.post(f"{BASE}/customers", json={"name": "Two"}, headers=headers)
    assert_error(reused, 409, "IDEMPOTENCY_KEY_REUSED", "key-1")
    patch_reuse = await client.patch(
        f"{BASE}/customers/{first.json()['id']}", json={"level": "A"}, headers=headers
    )
    assert_error(patch_reuse, 409, "IDEMPOTENCY_KEY_REUSED", "key-1")
    assert await total_customers(client) == 1


async def test_rejected_request_repeats_its_rejection(client: httpx.AsyncClient) -> None:
    await client.post(f"{BASE}/customers", json={"name": "Taken"}, headers=auth(RW, request_id="a"))
    headers = auth(RW, request_id="dup-1")
    first = await client.post(f"{BASE}/customers", json={"name": "taken"}, headers=headers)
    second = await client.post(f"{BASE}/customers", json={"name": "taken"}, headers=headers)
    assert first.status_code == second.status_code == 409
    assert first.json()["message"] == second.json()["message"] == "客户名称已存在"


async def test_patch_repeat_applies_once(client: httpx.AsyncClient) -> None:
    created = await client.post(
        f"{BASE}/customers", json={"name": "P", "tags": ["a"]}, headers=auth(RW, request_id="p0")
    )
    url = f"{BASE}/customers/{created.json()['id']}"
    headers = auth(RW, request_id="p1")
    first = await client.patch(url, json={"level": "A"}, headers=headers)
    await client.patch(url, json={"level": "B"}, headers=auth(RW, request_id="p2"))
    repeat = await client.patch(url, json={"level": "A"}, headers=headers)
    assert repeat.status_code == 200
    assert repeat.json() == first.json()  # the first result ...
    current = await client.get(url, headers=auth(READ))
    assert current.json()["level"] == "B"  # ... and no second effect


async def test_concurrent_identical_requests_create_exactly_one(client: httpx.AsyncClient) -> None:
    headers = auth(RW, request_id="racy-1")
    answers = await asyncio.gather(
        *[
            client.post(f"{BASE}/customers", json={"name": "Racy"}, headers=headers)
            for _ in range(10)
        ]
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await total_customers(client) == 1


async def test_concurrent_identical_imports_create_once(client: httpx.AsyncClient) -> None:
    headers = auth(RW, request_id="import-racy")
    body = {"items": [{"name": f"i{n}"} for n in range(20)]}
    answers = await asyncio.gather(
        *[client.post(f"{BASE}/customers/import", json=body, headers=headers) for _ in range(5)]
    )
    assert {a.status_code for a in answers} == {200}
    assert all(a.json() == answers[0].json() for a in answers)
    assert answers[0].json()["created"] == 20
    assert await total_customers(client) == 20


async def test_idempotency_keys_are_per_tenant(client: httpx.AsyncClient) -> None:
    mine = await client.post(
        f"{BASE}/customers", json={"name": "Same"}, headers=auth(RW, request_id="shared")
    )
    theirs = await client.post(
        f"{BASE}/customers",
        json={"name": "Same"},
        headers=auth(RW, tenant="t2", request_id="shared"),
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert await total_customers(client, "t1") == await total_customers(client, "t2") == 1


# --- error bodies ----------------------------------------------------------------------


async def test_401_bodies(client: httpx.AsyncClient) -> None:
    url = f"{BASE}/customers"
    missing = await client.get(url, headers={"X-Request-ID": "r-401a"})
    assert_error(missing, 401, "UNAUTHORIZED", "r-401a")
    garbage = await client.get(url, headers={"Authorization": "Bearer x.y.z", "X-Request-ID": "b"})
    assert_error(garbage, 401, "UNAUTHORIZED", "b")
    expired = make_token(exp=1)
    old = await client.get(url, headers={"Authorization": f"Bearer {expired}", "X-Request-ID": "c"})
    assert_error(old, 401, "UNAUTHORIZED", "c")
    wrong_secret = make_token(secret="another-secret-0123456789-0123456789")
    forged = await client.get(
        url, headers={"Authorization": f"Bearer {wrong_secret}", "X-Request-ID": "d"}
    )
    assert_error(forged, 401, "UNAUTHORIZED", "d")
    write = await client.post(url, json={"name": "x"}, headers={"X-Request-ID": "e"})
    assert_error(write, 401, "UNAUTHORIZED", "e")


async def test_403_bodies(client: httpx.AsyncClient) -> None:
    no_permission = await client.get(
        f"{BASE}/customers", headers=auth(("crm.read",), request_id="r-403")
    )
    assert_error(no_permission, 403, "FORBIDDEN", "r-403")
    read_only = await client.post(
        f"{BASE}/contacts",
        json={"customerId": "c", "name": "n"},
        headers=auth(READ, request_id="w"),
    )
    assert_error(read_only, 403, "FORBIDDEN", "w")
    mismatch = await client.get(
        f"{BASE}/customers", headers=auth(READ, request_id="r-tenant", X_Tenant_Id="t2")
    )
    assert_error(mismatch, 403, "TENANT_MISMATCH", "r-tenant")
    matching = await client.get(f"{BASE}/customers", headers=auth(READ, X_Tenant_Id="t1"))
    assert matching.status_code == 200


@pytest.mark.parametrize(
    "path", [f"{BASE}/nope", "/nope", f"{BASE}/customers/a/b", f"{BASE}/contacts/a/b"]
)
async def test_unknown_routes_are_404_bodies(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers=auth(READ, request_id="r-404"))
    assert_error(response, 404, "NOT_FOUND", "r-404")
    anonymous = await client.get(path, headers={"X-Request-ID": "r-anon"})
    assert anonymous.status_code == 404
    assert anonymous.json()["requestId"] == "r-anon"


async def test_unknown_ids_are_404_bodies(client: httpx.AsyncClient) -> None:
    customer = await client.get(f"{BASE}/customers/nope", headers=auth(READ, request_id="n1"))
    assert_error(customer, 404, "CUSTOMER_NOT_FOUND", "n1")
    contact = await client.get(f"{BASE}/contacts/nope", headers=auth(READ, request_id="n2"))
    assert_error(contact, 404, "CONTACT_NOT_FOUND", "n2")


async def test_method_not_allowed_has_the_error_body(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{BASE}/customers", json={}, headers=auth(RW, request_id="m"))
    assert_error(response, 405, "METHOD_NOT_ALLOWED", "m")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/customers", {"name": ""}),
        ("POST", "/customers", {"phone": "13812345678"}),
        ("POST", "/customers/import", {"items": []}),
        ("POST", "/contacts", {"name": "no customer"}),
        ("GET", "/customers?pageSize=101", None),
        ("GET", "/customers?page=0", None),
        ("GET", "/customers/export?pageSize=1001", None),
        ("GET", "/contacts?pageSize=abc", None),
    ],
)
async def test_validation_errors_are_400_never_422(
    client: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    response = await client.request(
        method, f"{BASE}{path}", json=body, headers=auth(RW, request_id="v-1")
    )
    assert_error(response, 400, "VALIDATION_ERROR", "v-1")
    assert response.json()["details"]


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    headers = {**auth(RW, request_id="bad-json"), "Content-Type": "application/json"}
    response = await client.post(f"{BASE}/customers", content=b'{"name": ', headers=headers)
    assert_error(response, 400, "MALFORMED_JSON", "bad-json")


async def test_conflict_body(client: httpx.AsyncClient) -> None:
    await client.post(f"{BASE}/customers", json={"name": "X"}, headers=auth(RW, request_id="x1"))
    dup = await client.post(
        f"{BASE}/customers", json={"name": "x"}, headers=auth(RW, request_id="x2")
    )
    assert_error(dup, 409, "DUPLICATE_CUSTOMER_NAME", "x2")
    assert dup.json()["message"] == "客户名称已存在"


# --- response headers ------------------------------------------------------------------


async def test_every_response_has_timing_and_request_id(client: httpx.AsyncClient) -> None:
    created = await client.post(
        f"{BASE}/customers", json={"name": "H"}, headers=auth(RW, request_id="h-1")
    )
    responses = [
        created,
        await client.get(f"{BASE}/customers", headers=auth(READ)),
        await client.get(f"/customers/{created.json()['id']}", headers=auth(READ)),
        await client.get(f"{BASE}/contacts", headers=auth(READ)),
        await client.get(f"{BASE}/customers/nope", headers=auth(READ)),
        await client.get(f"{BASE}/nope"),
        await client.get(f"{BASE}/customers"),
        await client.post(f"{BASE}/customers", json={}, headers=auth(RW, request_id="h-2")),
    ]
    for response in responses:
        assert float(response.headers["x-response-time"]) >= 0
        assert response.headers["x-request-id"]
    assert created.headers["x-request-id"] == "h-1"
    generated = responses[1].headers["x-request-id"]
    assert str(uuid.UUID(generated)) == generated  # generated when absent
    assert responses[1].headers["x-request-id"] != responses[3].headers["x-request-id"]


async def test_paging_defaults_on_every_list(client: httpx.AsyncClient) -> None:
    for path in ("/customers", "/contacts", "/customers/export"):
        body = (await client.get(f"{BASE}{path}", headers=auth(READ))).json()
        assert body == {"items": [], "total": 0, "page": 1, "pageSize": 20}, path


async def test_gateway_and_cell_paths_serve_the_same_data(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/customers", json={"name": "Cell"}, headers=auth(RW, request_id=new_request_id())
    )
    assert created.status_code == 201
    via_gateway = await client.get(f"{BASE}/customers/{created.json()['id']}", headers=auth(READ))
    assert via_gateway.json() == created.json()
    listed_cell = (await client.get("/customers", headers=auth(READ))).json()
    listed_gateway = (await client.get(f"{BASE}/customers", headers=auth(READ))).json()
    assert listed_cell == listed_gateway
