"""CRM API reports: the sales funnel and the business metrics, checked against known data."""

import json

import httpx

from crm.runtime import Runtime
from tests.api.test_crm_opportunities import (
    CRM,
    PROFILES,
    READ,
    WRITE,
    assert_error,
    new_customer,
    new_opportunity,
    write_headers,
)
from tests.conftest import processed
from tests.helpers import auth, publish_raw

STAGES = ["lead", "qualified", "proposal", "negotiation", "won", "lost"]


def by_stage(funnel: dict) -> dict[str, tuple[int, float]]:
    assert [s["stage"] for s in funnel["stages"]] == STAGES  # all six, in funnel order
    return {s["stage"]: (s["count"], s["amount"]) for s in funnel["stages"]}


async def test_empty_tenant_has_an_all_zero_funnel(client: httpx.AsyncClient) -> None:
    funnel = await client.get(f"{CRM}/reports/funnel", headers=auth(READ))
    assert funnel.status_code == 200
    assert funnel.json() == {
        "stages": [{"stage": stage, "count": 0, "amount": 0} for stage in STAGES],
        "total": {"count": 0, "amount": 0},
    }
    metrics = await client.get(f"{CRM}/metrics", headers=auth(READ))
    assert metrics.status_code == 200
    assert metrics.json() == {
        "customerTotal": 0,
        "opportunityTotal": 0,
        "conversionRate": 0,
        "funnel": funnel.json(),
    }


async def seed(client: httpx.AsyncClient) -> list[dict]:
    """Three customers and eight opportunities (one later deleted, one moved to won)."""
    first, second = await new_customer(client), await new_customer(client)
    await new_customer(client)  # a customer with no opportunities still counts
    made = []
    for customer_id, stage, amount in [
        (first, "lead", 100),
        (first, "lead", 50.25),
        (second, "qualified", 1000),
        (second, "proposal", 300),
        (first, "won", 5000),
        (second, "lost", 700),
        (first, "lost", 0.1),
        (second, "negotiation", 999),  # deleted below
    ]:
        made.append(await new_opportunity(client, customer_id, stage=stage, amount=amount))
    deleted = await client.delete(f"{CRM}/opportunities/{made[-1]['id']}", headers=auth(WRITE))
    assert deleted.status_code == 200
    moved = await client.patch(
        f"{CRM}/opportunities/{made[3]['id']}",
        json={"stage": "won", "amount": 320},
        headers=write_headers(),
    )
    assert moved.status_code == 200
    return made


async def test_funnel_counts_and_sums_live_opportunities(client: httpx.AsyncClient) -> None:
    await seed(client)
    for base in (CRM, ""):
        response = await client.get(f"{base}/reports/funnel", headers=auth(READ))
        assert response.status_code == 200
        funnel = response.json()
        assert by_stage(funnel) == {
            "lead": (2, 150.25),
            "qualified": (1, 1000),
            "proposal": (0, 0),  # moved to won
            "negotiation": (0, 0),  # deleted
            "won": (2, 5320),
            "lost": (2, 700.1),
        }
        assert funnel["total"] == {"count": 7, "amount": 7170.35}


async def test_metrics(client: httpx.AsyncClient) -> None:
    await seed(client)
    for base in (CRM, ""):
        response = await client.get(f"{base}/metrics", headers=auth(READ))
        assert response.status_code == 200
        metrics = response.json()
        assert metrics["customerTotal"] == 3
        assert metrics["opportunityTotal"] == 7  # the deleted one is not counted
        assert metrics["conversionRate"] == 2 / 7  # won ÷ all (lost ones included)
        assert 0 <= metrics["conversionRate"] <= 1
        assert (
            metrics["funnel"]
            == (await client.get(f"{CRM}/reports/funnel", headers=auth(READ))).json()
        )


async def test_conversion_rate_extremes(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    lost = await new_opportunity(client, customer_id, stage="lost")
    assert (await client.get(f"{CRM}/metrics", headers=auth(READ))).json()["conversionRate"] == 0
    await client.patch(
        f"{CRM}/opportunities/{lost['id']}", json={"stage": "won"}, headers=write_headers()
    )
    assert (await client.get(f"{CRM}/metrics", headers=auth(READ))).json()["conversionRate"] == 1


async def test_deleted_customers_are_not_counted(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await new_customer(client)
    kept = await new_customer(client)
    assert (await client.get(f"{CRM}/metrics", headers=auth(READ))).json()["customerTotal"] == 2
    # the customer profile API has no customer delete; a Kafka producer sends the command the
    # CRM API's DELETE sends.
    command = {
        "commandId": "delete-customer-1",
        "type": "customer.delete",
        "tenantId": "t1",
        "actorId": "u1",
        "payload": {"customerId": kept},
    }
    await publish_raw(
        runtime,
        runtime.parts.topics.commands,
        json.dumps(command).encode(),
        f"t1:{kept}".encode(),
        {},
    )
    await processed(runtime)
    gone = await client.get(f"{PROFILES}/{kept}", headers=auth())
    assert gone.status_code == 404
    assert (await client.get(f"{CRM}/metrics", headers=auth(READ))).json()["customerTotal"] == 1


async def test_reports_are_per_tenant(client: httpx.AsyncClient) -> None:
    await seed(client)
    t2_customer = await new_customer(client, tenant="t2")
    await new_opportunity(client, t2_customer, tenant="t2", stage="proposal", amount=42)
    metrics = (await client.get(f"{CRM}/metrics", headers=auth(READ, tenant="t2"))).json()
    assert metrics["customerTotal"] == 1
    assert metrics["opportunityTotal"] == 1
    assert metrics["conversionRate"] == 0
    assert by_stage(metrics["funnel"])["proposal"] == (1, 42)
    assert metrics["funnel"]["total"] == {"count": 1, "amount": 42}


async def test_reports_need_crm_read(client: httpx.AsyncClient) -> None:
    for path in ("/reports/funnel", "/metrics"):
        assert_error(await client.get(f"{CRM}{path}"), 401)
        assert_error(await client.get(f"{CRM}{path}", headers=auth(("customers.read",))), 403)
