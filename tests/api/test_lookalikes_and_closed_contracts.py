"""Rules a user meets through HTTP, end to end (issue 20 items 5 and 7): a name that only
looks different (full-width, another case, a ligature) is the same name (409), and a
contract that is not active takes no payment (409)."""

import httpx

from tests.helpers import auth, new_request_id

PROFILES = "/api/v1/api/customers"
CRM = "/api/v1/crm"


async def post(client: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
    return await client.post(path, json=body, headers=auth(request_id=new_request_id()))


async def test_lookalike_names_are_the_same_name(client: httpx.AsyncClient) -> None:
    first = await post(client, f"{CRM}/customers", {"name": "Ａｃｍｅ　Ｌｔｄ"})
    assert first.status_code == 201, first.text
    assert first.json()["name"] == "Ａｃｍｅ　Ｌｔｄ"  # stored as written
    for name in ("acme ltd", "ACME  LTD"):
        again = await post(client, f"{CRM}/customers", {"name": name})
        assert again.status_code == 409, again.text
        assert again.json()["message"] == "客户名称已存在"
    api_a = await post(client, PROFILES, {"name": "Acme Ltd"})
    assert api_a.status_code == 409, api_a.text
    assert api_a.json()["error"]["code"] == "DUPLICATE_CUSTOMER_NAME"
    other = await post(client, f"{CRM}/customers", {"name": "ﬁnance"})
    assert other.status_code == 201
    rename = await client.patch(
        f"{CRM}/customers/{other.json()['id']}",
        json={"name": "ACME LTD"},
        headers=auth(request_id=new_request_id()),
    )
    assert rename.status_code == 409, rename.text
    imported = await post(client, f"{CRM}/customers/import", {"items": [{"name": "FINANCE"}]})
    assert imported.status_code == 200, imported.text
    assert imported.json()["items"][0]["status"] == "duplicate"


async def test_only_an_active_contract_takes_payments(client: httpx.AsyncClient) -> None:
    customer = await post(client, f"{CRM}/customers", {"name": "Payer"})
    customer_id = customer.json()["id"]
    contracts = {}
    for status in ("active", "draft", "completed", "terminated"):
        created = await post(
            client,
            f"{CRM}/contracts",
            {
                "contractNo": f"HT-{status}",
                "customerId": customer_id,
                "amount": 100,
                "status": status,
            },
        )
        assert created.status_code == 201, created.text
        contracts[status] = created.json()["id"]
    for status in ("draft", "completed", "terminated"):
        refused = await post(
            client, f"{CRM}/payments", {"contractId": contracts[status], "amount": 1}
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "CONTRACT_NOT_PAYABLE"
        assert status in refused.json()["message"]
    paid = await post(client, f"{CRM}/payments", {"contractId": contracts["active"], "amount": 1})
    assert paid.status_code == 201, paid.text
    listed = await client.get(f"{CRM}/payments", headers=auth())
    assert listed.json()["total"] == 1
