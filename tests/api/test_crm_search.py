"""CRM API lists: search, filters, `sort`, and a 400 for an unknown or malformed parameter."""

from typing import Any

import httpx
import pytest

from tests.helpers import auth, new_request_id

BASE = "/api/v1/crm"


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any], **headers: str) -> Any:
    response = await client.post(
        f"{BASE}{path}", json=body, headers=auth(request_id=new_request_id(), **headers)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def patch(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    response = await client.patch(
        f"{BASE}{path}", json=body, headers=auth(request_id=new_request_id())
    )
    assert response.status_code == 200, response.text


async def names(client: httpx.AsyncClient, path: str, key: str = "name", **params: Any) -> list:
    response = await client.get(f"{BASE}{path}", params=params, headers=auth())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])  # every test list fits one page
    return [item[key] for item in body["items"]]


def assert_400(response: httpx.Response, *mentioned: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details", "requestId"}
    for text in mentioned:
        assert text in body["message"], body


async def test_customer_search_filters_and_sort(client: httpx.AsyncClient) -> None:
    acme = await post(
        client,
        "/customers",
        {
            "name": "Acme Robotics",
            "company": "Acme Holdings",
            "phone": "138-1234-5678",
            "email": "Sales@Acme.example",
            "tags": ["vip", "east"],
            "level": "A",
            "source": "website",
            "industry": "software",
            "ownerId": "u7",
        },
    )
    await post(
        client,
        "/customers",
        {
            "name": "北京数据科技",
            "company": "Beta (a.b) Corp",
            "phone": "+1 415 555 0100",
            "email": "ops@beta.example",
            "tags": ["east"],
            "level": "B",
            "source": "fair",
            "industry": "retail",
        },
    )
    await post(client, "/customers", {"name": "zeta", "email": "z@zeta.example"})

    assert await names(client, "/customers") == ["zeta", "北京数据科技", "Acme Robotics"]
    # q: part of the name, another case, full-width letters; the company; the email
    for q in ("robot", "ROBOTICS", "ａｃｍｅ　ｒｏｂ", "holdings", "acme.example"):
        assert await names(client, "/customers", q=q) == ["Acme Robotics"], q
    assert await names(client, "/customers", q="数据") == ["北京数据科技"]
    # regex characters are plain text: "(a.b)" is found, "a.b" does not match "acme"
    assert await names(client, "/customers", q="(a.b)") == ["北京数据科技"]
    assert await names(client, "/customers", q=".*") == []
    assert await names(client, "/customers", q="e", sort="name") == [
        "Acme Robotics",
        "zeta",
        "北京数据科技",
    ]
    # the phone in other formats
    for phone in ("13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "(138) 1234 5678"):
        assert await names(client, "/customers", phone=phone) == ["Acme Robotics"], phone
    assert await names(client, "/customers", phone="4155550100") == []
    assert await names(client, "/customers", phone="+1 (415) 555-0100") == ["北京数据科技"]
    # exact filters
    assert await names(client, "/customers", email="sales@acme.EXAMPLE") == ["Acme Robotics"]
    assert await names(client, "/customers", email="acme.example") == []
    assert await names(client, "/customers", tag="east") == ["北京数据科技", "Acme Robotics"]
    assert await names(client, "/customers", tag="east", level="B") == ["北京数据科技"]
    assert await names(client, "/customers", source="website") == ["Acme Robotics"]
    assert await names(client, "/customers", industry="retail") == ["北京数据科技"]
    assert await names(client, "/customers", ownerId="u7") == ["Acme Robotics"]
    assert await names(client, "/customers", ownerId="nobody") == []
    # X-User-Id narrows too; with another ownerId nothing matches
    response = await client.get(f"{BASE}/customers", headers=auth(X_User_Id="u7"))
    assert [c["name"] for c in response.json()["items"]] == ["Acme Robotics"]
    response = await client.get(
        f"{BASE}/customers", params={"ownerId": "u1"}, headers=auth(X_User_Id="u7")
    )
    assert response.json()["items"] == []
    # sort, both ways; the export takes the same parameters
    assert await names(client, "/customers", sort="name") == [
        "Acme Robotics",
        "zeta",
        "北京数据科技",
    ]
    assert await names(client, "/customers", sort="-name") == [
        "北京数据科技",
        "zeta",
        "Acme Robotics",
    ]
    assert (await names(client, "/customers", sort="createdAt"))[0] == "Acme Robotics"
    assert await names(client, "/customers/export", q="robot", pageSize=1000) == ["Acme Robotics"]
    # updatedSince, and sort by updatedAt: an update moves a customer
    first = (await client.get(f"{BASE}/customers/{acme['id']}", headers=auth())).json()
    await patch(client, f"/customers/{acme['id']}", {"name": "Acme Renamed", "email": None})
    assert (await names(client, "/customers", sort="-updatedAt"))[0] == "Acme Renamed"
    since = await names(client, "/customers", updatedSince=first["updatedAt"])
    assert "Acme Renamed" in since
    assert await names(client, "/customers", updatedSince="9999-01-01T00:00:00Z") == []
    # the search keys follow the update: the new name is found, the cleared email is not
    assert await names(client, "/customers", q="renamed") == ["Acme Renamed"]
    assert await names(client, "/customers", q="robotics") == []
    assert await names(client, "/customers", email="sales@acme.example") == []


@pytest.mark.parametrize("path", ["/customers", "/customers/export"])
async def test_customer_list_refuses_unknown_and_malformed_parameters(
    client: httpx.AsyncClient, path: str
) -> None:
    async def get(**params: Any) -> httpx.Response:
        return await client.get(f"{BASE}{path}", params=params, headers=auth())

    assert_400(await get(name="Acme"), "'name'")
    assert_400(await get(q="a", pagesize=5), "'pagesize'")
    assert_400(await get(sort="phone"), "sort", "phone")
    assert_400(await get(sort="-"), "sort")
    assert_400(await get(updatedSince="yesterday"), "updatedSince")
    assert_400(await get(updatedSince="2026-13-01T00:00:00Z"), "updatedSince")
    assert_400(await get(phone="call me"), "phone")
    assert (await get(q="a", sort="-updatedAt", page=1, pageSize=10)).status_code == 200
    # at the root path too
    response = await client.get(path, params={"owner": "u1"}, headers=auth())
    assert_400(response, "'owner'")


async def test_other_lists_filter_sort_and_refuse_unknown_parameters(
    client: httpx.AsyncClient,
) -> None:
    first = (await post(client, "/customers", {"name": "First"}))["id"]
    second = (await post(client, "/customers", {"name": "Second"}))["id"]
    # contacts: customerId, isPrimary, q (name)
    await post(client, "/contacts", {"customerId": first, "name": "Wang Wei", "isPrimary": True})
    await post(client, "/contacts", {"customerId": first, "name": "Li Na"})
    await post(client, "/contacts", {"customerId": second, "name": "wang fang"})
    assert await names(client, "/contacts", customerId=first) == ["Li Na", "Wang Wei"]
    assert await names(client, "/contacts", isPrimary="true") == ["Wang Wei"]
    assert await names(client, "/contacts", isPrimary="false", q="WANG") == ["wang fang"]
    assert await names(client, "/contacts", sort="name") == ["Li Na", "Wang Wei", "wang fang"]
    # opportunities: customerId, stage, amount range, ownerId
    deal = await post(
        client,
        "/opportunities",
        {"customerId": first, "name": "Big", "amount": 5000, "stage": "proposal"},
    )
    await post(client, "/opportunities", {"customerId": first, "name": "Small", "amount": 50})
    await post(
        client,
        "/opportunities",
        {"customerId": second, "name": "Mid", "amount": 500, "ownerId": "u9"},
    )
    assert await names(client, "/opportunities", stage="proposal") == ["Big"]
    assert await names(client, "/opportunities", minAmount=100) == ["Mid", "Big"]
    assert await names(client, "/opportunities", minAmount=50, maxAmount=500) == ["Mid", "Small"]
    assert await names(client, "/opportunities", customerId=first, sort="-amount") == [
        "Big",
        "Small",
    ]
    assert await names(client, "/opportunities", ownerId="u9") == ["Mid"]
    # follow-ups: customerId, opportunityId, method, followedFrom/followedTo
    for method, at in (("call", "2026-11-01T09:00:00Z"), ("visit", "2026-11-20T23:30:00Z")):
        await post(
            client,
            "/follow-ups",
            {
                "customerId": first,
                "opportunityId": deal["id"],
                "method": method,
                "content": method,
                "followedAt": at,
            },
        )
    await post(
        client,
        "/follow-ups",
        {"customerId": second, "content": "other", "followedAt": "2026-12-05T10:00:00Z"},
    )
    follow_ups = "/follow-ups"
    assert await names(client, follow_ups, "content", method="visit") == ["visit"]
    assert await names(client, follow_ups, "content", followedTo="2026-11-20") == [
        "visit",
        "call",
    ]
    assert await names(
        client, follow_ups, "content", followedFrom="2026-11-02", followedTo="2026-11-30"
    ) == ["visit"]
    assert await names(client, follow_ups, "content", followedFrom="2026-11-20T23:30:00+00:00") == [
        "other",
        "visit",
    ]
    assert await names(client, follow_ups, "content", sort="followedAt") == [
        "call",
        "visit",
        "other",
    ]
    assert await names(client, follow_ups, "content", opportunityId=deal["id"], method="call") == [
        "call"
    ]
    # contracts: customerId, status; payments: contractId, paidFrom/paidTo
    active = await post(
        client, "/contracts", {"contractNo": "HT-1", "customerId": first, "amount": 1000}
    )
    await post(
        client,
        "/contracts",
        {"contractNo": "HT-2", "customerId": second, "amount": 10, "status": "draft"},
    )
    assert await names(client, "/contracts", "contractNo", status="draft") == ["HT-2"]
    assert await names(client, "/contracts", "contractNo", customerId=first) == ["HT-1"]
    assert await names(client, "/contracts", "contractNo", sort="contractNo") == ["HT-1", "HT-2"]
    for amount, at in ((100, "2026-10-31T23:59:59Z"), (200, "2026-11-15T08:00:00Z")):
        await post(
            client, "/payments", {"contractId": active["id"], "amount": amount, "paidAt": at}
        )
    payments = "/payments"
    assert await names(client, payments, "amount", paidFrom="2026-11-01") == [200]
    assert await names(client, payments, "amount", paidTo="2026-10-31") == [100]
    assert await names(client, payments, "amount", contractId=active["id"], sort="-paidAt") == [
        200,
        100,
    ]

    # unknown parameters and bad values: 400 naming the parameter
    async def get(path: str, **params: Any) -> httpx.Response:
        return await client.get(f"{BASE}{path}", params=params, headers=auth())

    assert_400(await get("/contacts", customer=first), "'customer'")
    assert_400(await get("/contacts", isPrimary="perhaps"), "isPrimary")
    assert_400(await get("/opportunities", stage="dreaming"), "stage")
    assert_400(await get("/opportunities", minAmount="lots"), "minAmount")
    assert_400(await get("/opportunities", minAmount=10, maxAmount=5), "minAmount")
    assert_400(await get("/opportunities", sort="-stage"), "sort")
    assert_400(await get("/follow-ups", followedFrom="2026-11-31"), "followedFrom")
    assert_400(
        await get("/follow-ups", followedFrom="2026-12-01", followedTo="2026-11-01"),
        "followedFrom",
    )
    assert_400(await get("/follow-ups", method="telepathy"), "method")
    assert_400(await get("/contracts", status="dreaming"), "status")
    assert_400(await get("/contracts", contractNo="HT-1"), "'contractNo'")
    assert_400(await get("/payments", paidTo="soon"), "paidTo")
    assert_400(await get("/payments", customerId=first), "'customerId'")
