"""Customer profile API: through HTTP: every route, its happy path and its documented errors."""

import httpx
import pytest

from tests.helpers import auth

BASE = "/api/v1/api/customers"
READ = ("customers.read",)
WRITE = ("customers.write",)


async def create(client: httpx.AsyncClient, name: str = "Acme", **fields: object) -> dict:
    response = await client.post(BASE, json={"name": name, **fields}, headers=auth())
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def test_create_then_read_masks_phone(client: httpx.AsyncClient) -> None:
    created = await create(client, phone="13812345678", email="a@b.co", tags=["key"])
    assert created["name"] == "Acme"
    assert created["ownerId"] == "u1"
    response = await client.get(f"{BASE}/{created['id']}", headers=auth(READ))
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"]["phone"] == "138****5678"
    assert body["data"]["tags"] == ["key"]


async def test_pii_permission_sees_full_phone(client: httpx.AsyncClient) -> None:
    created = await create(client, phone="13812345678")
    response = await client.get(f"{BASE}/{created['id']}", headers=auth((*READ, "customers.pii")))
    assert response.json()["data"]["phone"] == "13812345678"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 201},
        {"name": "A", "email": "not-an-email"},
        {"name": "A", "phone": "call me"},
        {"name": "A", "tags": "not-a-list"},
        [1, 2],
    ],
)
async def test_create_rejects_invalid_bodies_with_400_envelope(
    client: httpx.AsyncClient, body: object
) -> None:
    response = await client.post(BASE, json=body, headers=auth())
    assert response.status_code == 400
    error = response.json()
    assert error["success"] is False
    assert error["error"]["code"] == "VALIDATION_ERROR"


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    headers = {**auth(), "Content-Type": "application/json"}
    response = await client.post(BASE, content=b'{"name": ', headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MALFORMED_JSON"


async def test_unknown_customer_is_404_on_every_route(client: httpx.AsyncClient) -> None:
    missing = f"{BASE}/no-such-id"
    identity = {"systemType": "im", "systemName": "wecom", "externalId": "x1"}
    calls = [
        ("GET", missing, None),
        ("GET", f"{missing}/bindings", None),
        ("GET", f"{missing}/interactions", None),
        ("POST", f"{missing}/bind-external", identity),
        ("DELETE", f"{missing}/bindings", identity),
        ("POST", f"{missing}/refresh", {"source": "crm"}),
        ("POST", f"{missing}/service-records", {"title": "t", "description": "d"}),
        ("PATCH", f"{missing}/commitments/c1", {"progress": 10}),
        ("POST", f"{missing}/interactions", {"interactionType": "call"}),
        ("POST", f"{missing}/mark-vip", {}),
    ]
    for method, url, body in calls:
        response = await client.request(method, url, json=body, headers=auth())
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["success"] is False


async def test_auth_failures(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"{BASE}/{created['id']}"
    assert (await client.get(url)).status_code == 401
    bad = {"Authorization": "Bearer not.a.token"}
    assert (await client.get(url, headers=bad)).json()["error"]["code"] == "UNAUTHORIZED"
    tampered = auth(READ)["Authorization"][:-3] + "abc"
    assert (await client.get(url, headers={"Authorization": tampered})).status_code == 401
    no_permission = await client.get(url, headers=auth(("crm.read",)))
    assert no_permission.status_code == 403
    read_only_write = await client.post(BASE, json={"name": "B"}, headers=auth(READ))
    assert read_only_write.status_code == 403


async def test_other_tenant_sees_404_and_header_mismatch_is_403(client: httpx.AsyncClient) -> None:
    created = await create(client)
    url = f"{BASE}/{created['id']}"
    assert (await client.get(url, headers=auth(READ, tenant="t2"))).status_code == 404
    mismatch = await client.get(url, headers=auth(READ, X_Tenant_Id="t2"))
    assert mismatch.status_code == 403
    same = await client.get(url, headers=auth(READ, X_Tenant_Id="t1"))
    assert same.status_code == 200


async def test_bind_list_unbind(client: httpx.AsyncClient) -> None:
    customer = await create(client)
    other = await create(client, name="Other")
    identity = {"systemType": "im", "systemName": "wecom", "externalId": "wx-1"}
    bind = await client.post(
        f"{BASE}/{customer['id']}/bind-external",
        json={**identity, "displayName": "Zhang"},
        headers=auth(),
    )
    assert bind.status_code == 200, bind.text
    assert bind.json()["data"]["customerId"] == customer["id"]
    again = await client.post(
        f"{BASE}/{customer['id']}/bind-external", json=identity, headers=auth()
    )
    assert again.status_code == 200
    taken = await client.post(f"{BASE}/{other['id']}/bind-external", json=identity, headers=auth())
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "IDENTITY_ALREADY_BOUND"
    listed = await client.get(f"{BASE}/{customer['id']}/bindings", headers=auth(READ))
    assert [b["externalId"] for b in listed.json()["data"]] == ["wx-1"]
    unbind = await client.request(
        "DELETE", f"{BASE}/{customer['id']}/bindings", json=identity, headers=auth()
    )
    assert unbind.status_code == 200
    assert (await client.get(f"{BASE}/{customer['id']}/bindings", headers=auth(READ))).json()[
        "data"
    ] == []
    gone = await client.request(
        "DELETE", f"{BASE}/{customer['id']}/bindings", json=identity, headers=auth()
    )
    assert gone.status_code == 404
    free_again = await client.post(
        f"{BASE}/{other['id']}/bind-external", json=identity, headers=auth()
    )
    assert free_again.status_code == 200


async def test_bind_rejects_unknown_system_type(client: httpx.AsyncClient) -> None:
    customer = await create(client)
    response = await client.post(
        f"{BASE}/{customer['id']}/bind-external",
        json={"systemType": "fax", "systemName": "x", "externalId": "1"},
        headers=auth(),
    )
    assert response.status_code == 400


async def test_refresh_stores_metrics_and_recomputes_profile(client: httpx.AsyncClient) -> None:
    customer = await create(client)
    before = customer["profile"]["healthScore"]
    await client.post(
        f"{BASE}/{customer['id']}/interactions", json={"interactionType": "call"}, headers=auth()
    )
    response = await client.post(
        f"{BASE}/{customer['id']}/refresh",
        json={
            "source": "zendesk",
            "metrics": {"satisfactionScore": 95, "issueCount": 0, "averageResolutionMinutes": 30},
        },
        headers=auth(),
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["metrics"]["source"] == "zendesk"
    assert data["metrics"]["satisfactionScore"] == 95
    assert data["metrics"]["refreshedAt"]
    assert data["profile"]["interactionCount"] == 1
    assert data["profile"]["lastInteractionAt"] is not None
    assert data["profile"]["healthScore"] > before


@pytest.mark.parametrize(
    "metrics",
    [
        {"satisfactionScore": 101, "issueCount": 0, "averageResolutionMinutes": 1},
        {"satisfactionScore": 50, "issueCount": -1, "averageResolutionMinutes": 1},
        {"satisfactionScore": 50, "issueCount": 0, "averageResolutionMinutes": -5},
        {"satisfactionScore": 50},
    ],
)
async def test_refresh_rejects_out_of_range_metrics(
    client: httpx.AsyncClient, metrics: dict
) -> None:
    customer = await create(client)
    response = await client.post(
        f"{BASE}/{customer['id']}/refresh",
        json={"source": "x", "metrics": metrics},
        headers=auth(),
    )
    assert response.status_code == 400


async def test_interactions_newest_first(client: httpx.AsyncClient) -> None:
    customer = await create(client)
    url = f"{BASE}/{customer['id']}/interactions"
    for kind, at in [
        ("call", "2026-01-01T10:00:00Z"),
        ("email", "2026-03-01T10:00:00Z"),
        ("chat", "2026-02-01T10:00:00Z"),
    ]:
        response = await client.post(
            url, json={"interactionType": kind, "occurredAt": at, "notes": "n"}, headers=auth()
        )
        assert response.status_code == 201, response.text
    listed = (await client.get(url, headers=auth(READ))).json()["data"]
    assert [i["interactionType"] for i in listed] == ["email", "chat", "call"]
    bad = await client.post(url, json={"interactionType": "fax"}, headers=auth())
    assert bad.status_code == 400


async def test_service_record_commitments_and_progress(client: httpx.AsyncClient) -> None:
    customer = await create(client)
    response = await client.post(
        f"{BASE}/{customer['id']}/service-records",
        json={
            "title": "Onboarding",
            "description": "kick-off",
            "commitments": [
                {"title": "Send proposal", "dueAt": "2026-12-01T00:00:00Z"},
                {"title": "Demo"},
            ],
        },
        headers=auth(),
    )
    assert response.status_code == 201, response.text
    record = response.json()["data"]
    commitments = record["commitments"]
    assert len(commitments) == 2
    assert {c["progress"] for c in commitments} == {0}
    assert len({c["id"] for c in commitments}) == 2
    profile = (await client.get(f"{BASE}/{customer['id']}", headers=auth(READ))).json()["data"]
    assert profile["profile"]["openCommitments"] == 2

    url = f"{BASE}/{customer['id']}/commitments/{commitments[0]['id']}"
    half = await client.patch(url, json={"progress": 50}, headers=auth())
    assert half.status_code == 200
    assert half.json()["data"]["done"] is False
    done = await client.patch(url, json={"progress": 100}, headers=auth())
    assert done.json()["data"]["done"] is True
    profile = (await client.get(f"{BASE}/{customer['id']}", headers=auth(READ))).json()["data"]
    assert profile["profile"]["openCommitments"] == 1

    assert (await client.patch(url, json={"progress": 101}, headers=auth())).status_code == 400
    unknown = await client.patch(
        f"{BASE}/{customer['id']}/commitments/nope", json={"progress": 1}, headers=auth()
    )
    assert unknown.status_code == 404


async def test_mark_vip(client: httpx.AsyncClient) -> None:
    customer = await create(client)
    response = await client.post(
        f"{BASE}/{customer['id']}/mark-vip",
        json={"reason": "big account"},
        headers=auth(sub="boss"),
    )
    assert response.status_code == 200
    vip = response.json()["data"]["vip"]
    assert vip["isVip"] is True
    assert vip["reason"] == "big account"
    assert vip["markedBy"] == "boss"
    assert vip["markedAt"]
    no_body = await client.post(f"{BASE}/{customer['id']}/mark-vip", headers=auth())
    assert no_body.status_code == 200


async def test_same_request_id_creates_once(client: httpx.AsyncClient) -> None:
    headers = auth(request_id="req-1")
    first = await client.post(BASE, json={"name": "Once"}, headers=headers)
    second = await client.post(BASE, json={"name": "Once"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["data"]["id"] == second.json()["data"]["id"]
    duplicate_name = await client.post(BASE, json={"name": "once "}, headers=auth())
    assert duplicate_name.status_code == 409
