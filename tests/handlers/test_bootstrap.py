"""Bootstrapping a new consumer: every customer read carries `sequence`, the number of
the customer's last change event it reflects; an export taken while writes go on, plus
each customer's events above its watermark, rebuilds exactly what is stored."""

import asyncio
import json
from typing import Any

import httpx

from crm.runtime import Runtime
from crm.web import facade_context
from http_facade.app import create_app
from tests.conftest import attach_probe, processed, published
from tests.helpers import auth, publish_raw
from tests.integration.backends import Services, deployment

API_A = "/api/v1/api/customers"
API_B = "/api/v1/crm/customers"
PII = ("customers.read", "customers.write", "customers.pii")
# Customer events whose data is the customer's view (the others carry a binding).
WHOLE_CUSTOMER = {"created", "updated", "vip_marked", "profile_refreshed", "deleted"}


async def test_every_customer_read_carries_its_watermark(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    created = await client.post(API_B, json={"name": "Mark"}, headers=auth(request_id="m-1"))
    customer_id = created.json()["id"]
    vip = await client.post(
        f"{API_A}/{customer_id}/mark-vip", json={}, headers=auth(request_id="m-2")
    )
    assert vip.status_code == 200, vip.text
    patched = await client.patch(
        f"{API_B}/{customer_id}", json={"remark": "r"}, headers=auth(request_id="m-3")
    )
    assert patched.status_code == 200, patched.text
    events = await published(runtime, runtime.parts.topics.customer_events)
    assert [e["value"]["sequence"] for e in events] == [1, 2, 3]

    detail_b = (await client.get(f"{API_B}/{customer_id}", headers=auth())).json()
    detail_a = (await client.get(f"{API_A}/{customer_id}", headers=auth())).json()["data"]
    [listed] = (await client.get(API_B, headers=auth())).json()["items"]
    [exported] = (await client.get(f"{API_B}/export", headers=auth())).json()["items"]
    assert [detail_b["sequence"], detail_a["sequence"], listed["sequence"]] == [3, 3, 3]
    assert exported["sequence"] == 3


def command(number: int, command_type: str, payload: dict[str, Any]) -> bytes:
    envelope = {
        "commandId": f"w-{number}",
        "type": command_type,
        "tenantId": "t1",
        "actorId": "writer",
        "payload": payload,
    }
    return json.dumps(envelope).encode()


def writes(customer_ids: list[str]) -> list[tuple[str, bytes]]:
    """A stream of writes about these customers and new ones: (customer key, command)."""
    stream: list[tuple[str, bytes]] = []
    for round_ in range(4):
        for index, customer_id in enumerate(customer_ids):
            about = {"customerId": customer_id}
            kind, payload = [
                ("customer.update", {**about, "phone": f"1380000{round_:02d}{index:02d}"}),
                ("customer.mark_vip", {**about, "reason": f"round {round_}"}),
                ("customer.refresh_profile", {**about, "source": "crm"}),
                ("customer.update", {**about, "remark": None, "company": f"Co {round_}"}),
            ][(round_ + index) % 4]
            stream.append((customer_id, command(len(stream), kind, payload)))
        stream.append(("new", command(len(stream), "customer.create", {"name": f"New {round_}"})))
    stream.append(
        (customer_ids[0], command(len(stream), "customer.delete", {"customerId": customer_ids[0]}))
    )
    return stream


def rebuilt(export: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The consumer's recipe: the export, then each customer's events above its watermark
    (deduplicated by event id)."""
    state = {row["id"]: {k: v for k, v in row.items() if k != "sequence"} for row in export}
    watermark = {row["id"]: row["sequence"] for row in export}
    seen: set[str] = set()
    for event in events:
        entity, action = event["type"].split(".")[1:]
        if event["id"] in seen or entity != "customer" or action not in WHOLE_CUSTOMER:
            continue
        seen.add(event["id"])
        if event["sequence"] <= watermark.get(event["subject"], 0):
            continue
        if action == "deleted":
            state.pop(event["subject"], None)
        else:
            state[event["subject"]] = event["data"]
    return state


async def test_an_export_during_writes_plus_the_later_events_rebuilds_the_state(
    services: Services,
) -> None:
    async with deployment(services, event_pii="clear") as ([runtime], probe):
        attach_probe(runtime, probe)
        transport = httpx.ASGITransport(app=create_app(facade_context(runtime)))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:

            async def export() -> list[dict[str, Any]]:
                answer = await http.get(
                    f"{API_B}/export", params={"pageSize": 1000}, headers=auth(PII)
                )
                assert answer.status_code == 200, answer.text
                return list(answer.json()["items"])

            customer_ids = []
            for n in range(4):
                body = {"name": f"Base {n}", "email": f"b{n}@example.com"}
                made = await http.post(API_B, json=body, headers=auth(PII, request_id=f"b-{n}"))
                customer_ids.append(made.json()["id"])

            stream = writes(customer_ids)

            async def write_all() -> None:
                for customer_id, value in stream:
                    key = f"t1:{customer_id}".encode()
                    await publish_raw(runtime, runtime.parts.topics.commands, value, key, {})
                    await asyncio.sleep(0.02)  # paced: the exports meet the writes midway

            async def decided() -> int:
                journal = runtime.parts.store.db["command_journal"]
                return await journal.count_documents({"commandId": {"$regex": "^w-"}})

            exports = [await export()]
            writer = asyncio.create_task(write_all())
            while await decided() < len(stream):
                exports.append(await export())
                await asyncio.sleep(0.005)
            await writer
            await processed(runtime)
            exports.append(await export())
            final = {
                row["id"]: {k: v for k, v in row.items() if k != "sequence"} for row in exports[-1]
            }
            events = [
                m["value"] for m in await published(runtime, runtime.parts.topics.customer_events)
            ]

        distinct = {json.dumps(e, sort_keys=True) for e in exports}
        assert len(distinct) > 2, "the exports should see the writes in progress"
        for taken in exports:
            assert rebuilt(taken, events) == final
