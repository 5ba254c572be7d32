"""CRM API contracts and payments (回款) through HTTP: routes, rules and errors."""

import asyncio

import httpx
import pytest

from tests.api.test_crm_opportunities import (
    CRM,
    READ,
    assert_error,
    create,
    new_customer,
    new_opportunity,
    write_headers,
)
from tests.helpers import auth, new_request_id


async def new_contract(
    client: httpx.AsyncClient, customer_id: str, tenant: str = "t1", **fields: object
) -> dict:
    body = {
        "contractNo": f"HT-{new_request_id()[:8]}",
        "customerId": customer_id,
        "amount": 1000,
        **fields,
    }
    return await create(client, "/contracts", body, tenant=tenant)


async def pay(
    client: httpx.AsyncClient,
    contract_id: str,
    amount: object,
    tenant: str = "t1",
    **fields: object,
) -> httpx.Response:
    return await client.post(
        f"{CRM}/payments",
        json={"contractId": contract_id, "amount": amount, **fields},
        headers=write_headers(tenant=tenant),
    )


async def contract_of(client: httpx.AsyncClient, contract_id: str) -> dict:
    response = await client.get(f"{CRM}/contracts/{contract_id}", headers=auth(READ))
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- contracts ---------------------------------------------------------------------------


async def test_create_read_and_list_contracts(client: httpx.AsyncClient) -> None:
    customer_id, other = await new_customer(client), await new_customer(client)
    deal = await new_opportunity(client, customer_id)
    created = await new_contract(
        client,
        customer_id,
        contractNo="HT-2026-0001",
        opportunityId=deal["id"],
        name="年度合同",
        amount=230000.5,
        signedAt="2026-11-21T08:00:00Z",
    )
    assert created["contractNo"] == "HT-2026-0001"
    assert created["customerId"] == customer_id
    assert created["opportunityId"] == deal["id"]
    assert created["name"] == "年度合同"
    assert created["amount"] == 230000.5
    assert created["paidAmount"] == 0
    assert created["signedAt"] == "2026-11-21T08:00:00.000Z"
    assert created["status"] == "active"  # the default
    for base in (CRM, ""):
        detail = await client.get(f"{base}/contracts/{created['id']}", headers=auth(READ))
        assert detail.json() == created
    other_contract = await new_contract(client, other)
    everything = (await client.get(f"{CRM}/contracts", headers=auth(READ))).json()
    assert everything["total"] == 2
    mine = (
        await client.get(f"{CRM}/contracts", params={"customerId": customer_id}, headers=auth(READ))
    ).json()
    assert mine == {"items": [created], "total": 1, "page": 1, "pageSize": 20}
    assert other_contract["id"] in {c["id"] for c in everything["items"]}


async def test_contract_defaults(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    active = await new_contract(client, customer_id)
    assert active["signedAt"] == active["createdAt"]  # signed now
    assert active["opportunityId"] is None and active["name"] is None
    draft = await new_contract(client, customer_id, status="draft")
    assert draft["status"] == "draft"
    assert draft["signedAt"] is None  # not signed yet
    for status in ("completed", "terminated"):
        assert (await new_contract(client, customer_id, status=status))["status"] == status


@pytest.mark.parametrize(
    "body",
    [
        {"customerId": "c", "amount": 1},
        {"contractNo": "", "customerId": "c", "amount": 1},
        {"contractNo": "N", "amount": 1},
        {"contractNo": "N", "customerId": "c"},
        {"contractNo": "N", "customerId": "c", "amount": 0},
        {"contractNo": "N", "customerId": "c", "amount": -5},
        {"contractNo": "N", "customerId": "c", "amount": 1e13},
        {"contractNo": "N", "customerId": "c", "amount": 1, "status": "signed-ish"},
        {"contractNo": "N", "customerId": "c", "amount": 1, "signedAt": "not a date"},
    ],
)
async def test_create_contract_rejects_invalid_bodies(
    client: httpx.AsyncClient, body: dict
) -> None:
    response = await client.post(f"{CRM}/contracts", json=body, headers=write_headers())
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_duplicate_contract_no_is_409(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    await new_contract(client, customer_id, contractNo="HT-DUP")
    again = await client.post(
        f"{CRM}/contracts",
        json={"contractNo": " HT-DUP ", "customerId": customer_id, "amount": 5},
        headers=write_headers(),
    )
    body = assert_error(again, 409, "DUPLICATE_CONTRACT_NO")
    assert body["message"] == "合同编号已存在"
    # Contract numbers are unique per tenant, not across tenants.
    t2_customer = await new_customer(client, tenant="t2")
    await new_contract(client, t2_customer, tenant="t2", contractNo="HT-DUP")


async def test_concurrent_creates_of_one_number_keep_one(client: httpx.AsyncClient) -> None:
    first, second = await new_customer(client), await new_customer(client)
    responses = await asyncio.gather(
        *(
            client.post(
                f"{CRM}/contracts",
                json={"contractNo": "HT-RACE", "customerId": customer_id, "amount": 5},
                headers=write_headers(),
            )
            for customer_id in (first, second, first, second)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    listed = await client.get(f"{CRM}/contracts", headers=auth(READ))
    assert listed.json()["total"] == 1


async def test_contract_customer_and_opportunity_rules(client: httpx.AsyncClient) -> None:
    customer_id, other = await new_customer(client), await new_customer(client)
    others_deal = await new_opportunity(client, other)
    url = f"{CRM}/contracts"
    body = {"contractNo": "HT-X", "customerId": customer_id, "amount": 5}
    unknown_customer = await client.post(
        url, json={**body, "customerId": "nope"}, headers=write_headers()
    )
    assert_error(unknown_customer, 404, "CUSTOMER_NOT_FOUND")
    unknown_deal = await client.post(
        url, json={**body, "opportunityId": "nope"}, headers=write_headers()
    )
    assert_error(unknown_deal, 404, "OPPORTUNITY_NOT_FOUND")
    mismatch = await client.post(
        url, json={**body, "opportunityId": others_deal["id"]}, headers=write_headers()
    )
    assert_error(mismatch, 400, "OPPORTUNITY_CUSTOMER_MISMATCH")
    assert_error(
        await client.get(f"{CRM}/contracts/nope", headers=auth(READ)), 404, "CONTRACT_NOT_FOUND"
    )
    # The number was never taken by the refused attempts.
    await new_contract(client, customer_id, contractNo="HT-X")


async def test_contract_idempotency(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    headers = auth(request_id="contract-1")
    body = {"contractNo": "HT-IDEM", "customerId": customer_id, "amount": 100}
    first = await client.post(f"{CRM}/contracts", json=body, headers=headers)
    again = await client.post(f"{CRM}/contracts", json=body, headers=headers)
    assert first.status_code == again.status_code == 201  # not a duplicate-number 409
    assert first.json() == again.json()
    reused = await client.post(f"{CRM}/contracts", json={**body, "amount": 200}, headers=headers)
    assert_error(reused, 409, "IDEMPOTENCY_KEY_REUSED")
    assert (await client.get(f"{CRM}/contracts", headers=auth(READ))).json()["total"] == 1


async def test_contract_tenant_isolation(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    created = await new_contract(client, customer_id)
    t2 = auth(READ, tenant="t2")
    assert_error(await client.get(f"{CRM}/contracts/{created['id']}", headers=t2), 404)
    assert (await client.get(f"{CRM}/contracts", headers=t2)).json()["total"] == 0
    foreign = await client.post(
        f"{CRM}/contracts",
        json={"contractNo": "T2-1", "customerId": customer_id, "amount": 5},
        headers=write_headers(tenant="t2"),
    )
    assert_error(foreign, 404, "CUSTOMER_NOT_FOUND")


async def test_contract_permissions_and_request_id(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    body = {"contractNo": "HT-P", "customerId": customer_id, "amount": 5}
    assert_error(
        await client.post(f"{CRM}/contracts", json=body, headers=auth(READ, request_id="r")), 403
    )
    assert_error(await client.get(f"{CRM}/contracts", headers=auth(("crm.write",))), 403)
    assert_error(
        await client.post(f"{CRM}/contracts", json=body, headers=auth()),
        400,
        "REQUEST_ID_REQUIRED",
    )


# --- payments ----------------------------------------------------------------------------


async def test_payments_up_to_the_exact_total(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    contract = await new_contract(client, customer_id, amount=1000)
    first = await pay(
        client, contract["id"], 400, paidAt="2026-12-01T10:00:00Z", method="bank", remark="首期"
    )
    assert first.status_code == 201, first.text
    payment = first.json()
    assert payment["contractId"] == contract["id"]
    assert payment["customerId"] == customer_id
    assert payment["amount"] == 400
    assert payment["paidAt"] == "2026-12-01T10:00:00.000Z"
    assert (payment["method"], payment["remark"]) == ("bank", "首期")
    assert (await contract_of(client, contract["id"]))["paidAmount"] == 400

    rest = await pay(client, contract["id"], 600)  # exactly the rest: allowed
    assert rest.status_code == 201, rest.text
    assert rest.json()["paidAt"] == rest.json()["createdAt"]  # defaults to now
    assert (await contract_of(client, contract["id"]))["paidAmount"] == 1000

    over = await pay(client, contract["id"], 0.01)
    body = assert_error(over, 409, "PAYMENT_EXCEEDS_CONTRACT")
    assert "合同金额" in body["message"]
    assert (await contract_of(client, contract["id"]))["paidAmount"] == 1000


async def test_a_single_payment_over_the_amount_is_409(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    contract = await new_contract(client, customer_id, amount=100)
    assert_error(await pay(client, contract["id"], 100.01), 409, "PAYMENT_EXCEEDS_CONTRACT")
    listed = await client.get(
        f"{CRM}/payments", params={"contractId": contract["id"]}, headers=auth(READ)
    )
    assert listed.json()["total"] == 0


async def test_decimal_amounts_add_up_exactly(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    contract = await new_contract(client, customer_id, amount=0.3)
    assert (await pay(client, contract["id"], 0.1)).status_code == 201
    assert (await pay(client, contract["id"], 0.2)).status_code == 201  # 0.1 + 0.2 == 0.3
    assert (await contract_of(client, contract["id"]))["paidAmount"] == 0.3


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 10},
        {"contractId": None, "amount": 10},
        {"contractId": "", "amount": 10},
        {"contractId": "c", "amount": 0},
        {"contractId": "c", "amount": -1},
        {"contractId": "c"},
        {"contractId": "c", "amount": 1e13},
        {"contractId": "c", "amount": 1, "paidAt": "later"},
    ],
)
async def test_invalid_payment_bodies_are_400(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post(f"{CRM}/payments", json=body, headers=write_headers())
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_unknown_or_foreign_contract_is_404(client: httpx.AsyncClient) -> None:
    assert_error(await pay(client, "no-such-contract", 10), 404, "CONTRACT_NOT_FOUND")
    customer_id = await new_customer(client)
    contract = await new_contract(client, customer_id)
    assert_error(await pay(client, contract["id"], 10, tenant="t2"), 404, "CONTRACT_NOT_FOUND")
    assert (await contract_of(client, contract["id"]))["paidAmount"] == 0


async def test_list_payments(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    first = await new_contract(client, customer_id)
    second = await new_contract(client, customer_id)
    one = (await pay(client, first["id"], 10)).json()
    await asyncio.sleep(0.002)
    two = (await pay(client, first["id"], 20)).json()
    three = (await pay(client, second["id"], 30)).json()
    of_first = (
        await client.get(f"{CRM}/payments", params={"contractId": first["id"]}, headers=auth(READ))
    ).json()
    assert of_first == {"items": [two, one], "total": 2, "page": 1, "pageSize": 20}
    everything = (await client.get("/payments", headers=auth(READ))).json()  # the cell path
    assert {p["id"] for p in everything["items"]} == {one["id"], two["id"], three["id"]}
    t2 = await client.get(f"{CRM}/payments", headers=auth(READ, tenant="t2"))
    assert t2.json()["total"] == 0
    assert_error(await client.get(f"{CRM}/payments", headers=auth(("customers.read",))), 403)


async def test_repeated_payment_counts_once(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    contract = await new_contract(client, customer_id, amount=100)
    headers = auth(request_id="payment-1")
    body = {"contractId": contract["id"], "amount": 60}
    first = await client.post(f"{CRM}/payments", json=body, headers=headers)
    again = await client.post(f"{CRM}/payments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201  # not an "exceeds" 409
    assert first.json() == again.json()
    assert (await contract_of(client, contract["id"]))["paidAmount"] == 60
    reused = await client.post(f"{CRM}/payments", json={**body, "amount": 1}, headers=headers)
    assert_error(reused, 409, "IDEMPOTENCY_KEY_REUSED")
    no_key = await client.post(f"{CRM}/payments", json=body, headers=auth())
    assert_error(no_key, 400, "REQUEST_ID_REQUIRED")


async def test_concurrent_payments_never_exceed_the_contract(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    contract = await new_contract(client, customer_id, amount=100)
    responses = await asyncio.gather(*(pay(client, contract["id"], 30) for _ in range(5)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 201, 201, 409, 409]
    assert (await contract_of(client, contract["id"]))["paidAmount"] == 90
