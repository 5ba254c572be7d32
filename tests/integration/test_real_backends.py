"""Deployments over the real Kafka protocol (`wire` and `containers`), and what only MongoDB
can show (`containers` only).

- every list and detail query of `storage/` is served by an index (`explain()`: an index
  scan, never a collection scan), and start-up reconciles changed index definitions
  (MongoDB only);
- the facade and the worker work as separate runtimes that share only Kafka and the store;
- workers in one consumer group split the partitions and keep each customer's order;
- a worker stopped in the middle of a backlog loses nothing and applies nothing twice.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from crm.bootstrap import bootstrap
from crm.runtime import Runtime
from crm.web import facade_context
from handlers.outbox import PUBLISHING_FIELDS
from http_facade.app import create_app
from http_facade.crm_routes.filters import (
    contact_query,
    contract_query,
    customer_query,
    follow_up_query,
    opportunity_query,
    payment_query,
)
from schemas.contracts import ContractStatus
from schemas.follow_ups import FollowUpMethod
from schemas.ids import created_customer_id
from schemas.opportunities import OpportunityStage
from storage import reports
from storage.contacts import ContactRepository
from storage.contracts import ContractRepository
from storage.customer_profile import (
    BindingRepository,
    CommitmentRepository,
    InteractionRepository,
    binding_key,
)
from storage.customers import CUSTOMERS, CustomerRepository
from storage.database import Store
from storage.follow_ups import FollowUpRepository
from storage.indexes import ensure_indexes, index_plan
from storage.journal import JOURNAL, CommandJournal
from storage.opportunities import OpportunityRepository
from storage.parked_events import (
    ParkedEventRepository,
    contact_keys_of,
    customers_matching,
)
from storage.payments import PaymentRepository
from storage.retention import DAY_S
from tests.conftest import attach_probe, processed, published
from tests.helpers import auth, new_request_id, publish_raw
from tests.integration.backends import Services, consuming, deployment

PROFILES = "/api/v1/api/customers"
CRM = "/api/v1/crm"
TENANT = "t1"
INDEX_STAGES = ("IXSCAN", "IDHACK", "COUNT_SCAN")  # EXPRESS_IXSCAN (8.0) included


# -- indexes ------------------------------------------------------------------------------


class _Query:
    def __init__(self, collection: str, op: str, filter_: Any, projection: Any = None) -> None:
        self.collection, self.op, self.filter, self.projection = collection, op, filter_, projection
        self.sort: Any = None
        self.skip = 0
        self.limit = 0

    def __repr__(self) -> str:
        return f"{self.op} {self.collection} {self.filter} sort={self.sort}"


class _Cursor:
    def __init__(self, query: _Query) -> None:
        self._query = query

    def sort(self, key: Any, direction: int | None = None) -> "_Cursor":
        self._query.sort = key if direction is None else [(key, direction)]
        return self

    def skip(self, count: int) -> "_Cursor":
        self._query.skip = count
        return self

    def limit(self, count: int) -> "_Cursor":
        self._query.limit = count
        return self

    async def to_list(self, length: int | None = None) -> list[Any]:
        return []

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._empty()

    async def _empty(self) -> AsyncIterator[Any]:
        for item in ():
            yield item


class _RecordingCollection:
    def __init__(self, queries: list[_Query], name: str) -> None:
        self._queries, self.name = queries, name

    def find(self, filter_: Any = None, projection: Any = None, **_: Any) -> _Cursor:
        query = _Query(self.name, "find", filter_ or {}, projection)
        self._queries.append(query)
        return _Cursor(query)

    async def find_one(self, filter_: Any = None, projection: Any = None, **_: Any) -> None:
        self._queries.append(_Query(self.name, "find", filter_ or {}, projection))
        return None

    async def count_documents(self, filter_: Any, **_: Any) -> int:
        self._queries.append(_Query(self.name, "count", filter_))
        return 0

    async def aggregate(self, pipeline: list[Any], **_: Any) -> _Cursor:
        self._queries.append(_Query(self.name, "aggregate", pipeline))
        return _Cursor(_Query(self.name, "none", {}))


class _RecordingDatabase:
    """Stands in for the database: records every read a repository sends."""

    def __init__(self) -> None:
        self.queries: list[_Query] = []

    def __getitem__(self, name: str) -> _RecordingCollection:
        return _RecordingCollection(self.queries, name)


async def _every_read(ids: dict[str, str]) -> list[_Query]:
    """Run every read of storage/ (lists, details, look-ups, reports) and record them."""
    db: Any = _RecordingDatabase()
    t, customer = TENANT, ids["customer"]
    customers = CustomerRepository(db)
    await customers.get(t, customer)
    await customers.with_name_keys(t, ["acme"])
    await customers.sequences([customer])
    for query in (
        await customer_query(None),
        await customer_query("u1"),
        await customer_query(None, q="ａｃ"),
        await customer_query(None, phone="+86 138 0000 0000"),
        await customer_query(None, email="A@b.example"),
        await customer_query(None, tag="vip"),
        await customer_query(None, owner_id="u1"),
        await customer_query(None, level="A"),
        await customer_query(None, source="web"),
        await customer_query(None, industry="retail"),
        await customer_query(None, updated_since="2026-01-01T00:00:00Z"),
        await customer_query(None, sort="name"),
        await customer_query(None, sort="-updatedAt"),
    ):
        await customers.search(t, query.conditions, query.sort, skip=20, limit=20)
    await customers.count(t)
    contacts = ContactRepository(db)
    await contacts.get(t, ids["contact"])
    await contacts.primaries(t, customer, except_id=ids["contact"])
    for query in (
        await contact_query(),
        await contact_query(customer_id=customer),
        await contact_query(is_primary=True),
        await contact_query(q="li"),
        await contact_query(sort="-name"),
    ):
        await contacts.search(t, query.conditions, query.sort, skip=0, limit=20)
    opportunities = OpportunityRepository(db)
    await opportunities.get(t, ids["opportunity"])
    await opportunities.customer_of(t, ids["opportunity"])
    for query in (
        await opportunity_query(),
        await opportunity_query(customer_id=customer),
        await opportunity_query(stage=OpportunityStage.LEAD),
        await opportunity_query(owner_id="u1"),
        await opportunity_query(min_amount=1, max_amount=100),
        await opportunity_query(sort="amount"),
    ):
        await opportunities.search(t, query.conditions, query.sort, skip=0, limit=20)
    follow_ups = FollowUpRepository(db)
    await follow_ups.get(t, ids["follow_up"])
    await follow_ups.customer_of(t, ids["follow_up"])
    for query in (
        await follow_up_query(),
        await follow_up_query(customer_id=customer),
        await follow_up_query(opportunity_id=ids["opportunity"]),
        await follow_up_query(method=FollowUpMethod.CALL),
        await follow_up_query(followed_from="2026-01-01", followed_to="2026-12-31"),
        await follow_up_query(sort="-followedAt"),
    ):
        await follow_ups.search(t, query.conditions, query.sort, skip=0, limit=20)
    contracts = ContractRepository(db)
    await contracts.get(t, ids["contract"])
    await contracts.with_number(t, "HT-1")
    for query in (
        await contract_query(),
        await contract_query(customer_id=customer),
        await contract_query(status=ContractStatus.ACTIVE),
    ):
        await contracts.search(t, query.conditions, query.sort, skip=0, limit=20)
    payments = PaymentRepository(db)
    await payments.get(t, ids["payment"])
    for query in (
        await payment_query(),
        await payment_query(contract_id=ids["contract"]),
        await payment_query(paid_from="2026-01-01T00:00:00Z", paid_to="2026-12-31"),
        await payment_query(sort="-paidAt"),
    ):
        await payments.search(t, query.conditions, query.sort, skip=0, limit=20)
    bindings = BindingRepository(db)
    await bindings.get(t, "im", "wecom", "wx-1")
    await bindings.of_customer(t, customer)
    interactions = InteractionRepository(db)
    await interactions.newest_first(t, customer, 100)
    await interactions.count(t, customer)
    commitments = CommitmentRepository(db)
    await commitments.get(t, customer, ids["commitment"])
    await commitments.open_of_customer(t, customer)
    parked = ParkedEventRepository(db)
    await parked.get(f"{t}:x")
    await parked.any_in(t)
    await parked.waiting_for_identity(
        t, binding_key(t, "im", "wecom", "wx-9"), after_seq=0, limit=50
    )
    await parked.waiting_for_customers(
        t, customer_ids=[customer], match_keys=["phone:13800000000"], after_seq=0, limit=50
    )
    await parked.page(t, skip=0, limit=20)
    await customers_matching(db, t, phone="13800000000", email="a@b.example")
    await contact_keys_of(db, t, [customer])
    await reports.metrics(db, t)
    journal = CommandJournal(db)
    await journal.find(t, "some-command")
    await journal.unpublished(100, PUBLISHING_FIELDS)
    return db.queries


async def _explain(db: Any, query: _Query) -> dict[str, Any]:
    if query.op == "find":
        cursor = db[query.collection].find(query.filter, query.projection)
        if query.sort is not None:
            cursor = cursor.sort(query.sort)
        if query.skip:
            cursor = cursor.skip(query.skip)
        if query.limit:
            cursor = cursor.limit(query.limit)
        return dict(await cursor.explain())
    if query.op == "count":
        command = {"count": query.collection, "query": query.filter}
    else:
        command = {"aggregate": query.collection, "pipeline": query.filter, "cursor": {}}
    return dict(await db.command({"explain": command, "verbosity": "queryPlanner"}))


def _winning_stages(explained: Any) -> list[str]:
    """Stage names of every winning plan in an explain document (find, count, aggregate)."""
    stages: list[str] = []

    def walk(node: Any, in_winner: bool) -> None:
        if isinstance(node, dict):
            if in_winner and isinstance(node.get("stage"), str):
                stages.append(node["stage"])
            for key, value in node.items():
                if key != "rejectedPlans":
                    walk(value, in_winner or key == "winningPlan")
        elif isinstance(node, list):
            for item in node:
                walk(item, in_winner)

    walk(explained, False)
    return stages


async def _populate(client: httpx.AsyncClient, runtime: Runtime) -> dict[str, str]:
    """One of everything, so that every collection exists and has documents."""

    async def post(path: str, body: dict[str, Any], *, api_a: bool = False) -> dict[str, Any]:
        headers = auth(request_id=new_request_id())
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        data = response.json()
        return dict(data["data"] if api_a else data)

    customer = await post(PROFILES, {"name": "Acme", "phone": "13800000000"}, api_a=True)
    cid = customer["id"]
    await post(
        f"{PROFILES}/{cid}/bind-external",
        {"systemType": "im", "systemName": "wecom", "externalId": "wx-1"},
        api_a=True,
    )
    await post(f"{PROFILES}/{cid}/interactions", {"interactionType": "call"}, api_a=True)
    record = await post(
        f"{PROFILES}/{cid}/service-records",
        {"title": "Onboarding", "description": "d", "commitments": [{"title": "Demo"}]},
        api_a=True,
    )
    contact = await post(f"{CRM}/contacts", {"customerId": cid, "name": "Li", "isPrimary": True})
    deal = await post(f"{CRM}/opportunities", {"customerId": cid, "name": "Deal", "amount": 10})
    follow_up = await post(
        f"{CRM}/follow-ups",
        {"customerId": cid, "opportunityId": deal["id"], "method": "call", "content": "hi"},
    )
    contract = await post(
        f"{CRM}/contracts", {"contractNo": "HT-1", "customerId": cid, "amount": 100}
    )
    payment = await post(f"{CRM}/payments", {"contractId": contract["id"], "amount": 10})
    event = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "wecom",
        "type": "interaction.recorded",
        "tenantid": TENANT,
        "data": {
            "identity": {"systemType": "im", "systemName": "wecom", "externalId": "wx-9"},
            "interactionType": "chat",
        },
    }
    await publish_raw(
        runtime,
        runtime.parts.topics.integration_events,
        json.dumps(event).encode(),
        b"wecom:wx-9",
        {},
    )
    await processed(runtime)
    assert await runtime.parts.store.db["parked_events"].count_documents({}) == 1
    return {
        "customer": cid,
        "contact": contact["id"],
        "opportunity": deal["id"],
        "follow_up": follow_up["id"],
        "contract": contract["id"],
        "payment": payment["id"],
        "commitment": record["commitments"][0]["id"],
    }


@pytest.mark.containers_only  # explain() needs MongoDB
async def test_every_list_and_detail_query_is_served_by_an_index(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    ids = await _populate(client, runtime)
    queries = await _every_read(ids)
    assert len(queries) > 80
    for query in queries:
        explained = await _explain(runtime.parts.store.db, query)
        stages = _winning_stages(explained)
        assert stages, f"no plan for {query}: {explained}"
        assert "COLLSCAN" not in stages, f"collection scan for {query}: {stages}"
        assert any(any(s in stage for s in INDEX_STAGES) for stage in stages), (
            f"no index used for {query}: {stages}"
        )


@pytest.mark.containers_only  # index reconciliation needs MongoDB
async def test_index_start_up_is_idempotent_and_reconciles_changed_definitions(
    runtime: Runtime,
) -> None:
    db = runtime.parts.store.db
    expected = {name: await db[name].index_information() for name in index_plan()}
    await ensure_indexes(db, retention_s=30 * DAY_S)  # again: nothing changes
    assert {name: await db[name].index_information() for name in index_plan()} == expected

    customers = db[CUSTOMERS]
    await customers.drop_index("customer_list")
    await customers.create_index([("tenantId", 1)], name="customer_list")  # an old definition
    await customers.drop_index("phone")
    await customers.create_index([("tenantId", 1), ("phone", 1)], name="legacy_phone")
    await ensure_indexes(db, retention_s=30 * DAY_S)
    info = await customers.index_information()
    assert info["customer_list"]["key"] == expected[CUSTOMERS]["customer_list"]["key"]
    assert "legacy_phone" not in info
    assert info["phone"]["key"] == expected[CUSTOMERS]["phone"]["key"]
    unique = {name for name, spec in info.items() if spec.get("unique")}
    assert unique == {"customer_name_unique"}
    contract_indexes = await db["contracts"].index_information()
    assert contract_indexes["contract_no_unique"]["unique"] is True
    journal = await db[JOURNAL].index_information()
    assert journal["journal_unpublished"]["partialFilterExpression"] == {"published": False}


# -- processes ------------------------------------------------------------------------------


def shared(runtime: Runtime) -> Store | None:
    return runtime.parts.store if runtime.parts.store.embedded else None


def _http(runtime: Runtime) -> httpx.AsyncClient:
    app = create_app(facade_context(runtime), readiness=runtime.readiness)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_facade_and_worker_share_only_kafka_and_mongodb(services: Services) -> None:
    async with deployment(services, ("api", "worker")) as ([api, worker], probe):
        attach_probe(api, probe)
        attach_probe(worker, probe)
        assert list(api.parts.broker.subscribers) == []  # the facade consumes nothing
        async with _http(api) as http:
            created = await http.post(
                f"{CRM}/customers",
                json={"name": "Split", "phone": "13800000001"},
                headers=auth(request_id="split-1"),
            )
            assert created.status_code == 201, created.text
            customer_id = created.json()["id"]
            assert customer_id == created_customer_id(TENANT, "split-1")
            detail = await http.get(f"{CRM}/customers/{customer_id}", headers=auth())
            assert detail.status_code == 200
            assert detail.json()["phone"] == "138****0001"
            assert (await http.get("/ready")).status_code == 200
            # there are no /dev/topics routes: outside producers use Kafka itself
            dev = await http.post(f"/dev/topics/{api.parts.topics.commands}", json={"value": {}})
            assert dev.status_code == 404
        events = await published(worker, worker.parts.topics.customer_events)
        assert [e["value"]["type"] for e in events] == ["crm.customer.created"]
        assert events[0]["key"] == f"{TENANT}:{customer_id}"


async def test_workers_of_one_group_split_partitions_and_keep_each_customers_order(
    services: Services,
) -> None:
    async with deployment(services, ("api", "worker", "worker"), partitions=4) as (
        [api, *workers],
        probe,
    ):
        for worker in workers:
            attach_probe(worker, probe)
            owned = {tp for s in worker.parts.broker.subscribers for tp in s.consumer.assignment()}
            assert owned, "each worker of the group owns partitions"
        async with _http(api) as http:
            customer_ids = []
            for index in range(8):
                response = await http.post(
                    PROFILES, json={"name": f"C{index}"}, headers=auth(request_id=f"c-{index}")
                )
                assert response.status_code == 201, response.text
                customer_ids.append(response.json()["data"]["id"])

            async def interactions(customer_id: str) -> None:
                for n in range(3):
                    response = await http.post(
                        f"{PROFILES}/{customer_id}/interactions",
                        json={"interactionType": "chat", "notes": f"n{n}"},
                        headers=auth(request_id=f"{customer_id}-{n}"),
                    )
                    assert response.status_code == 201, response.text

            await asyncio.gather(*(interactions(c) for c in customer_ids))
        events = await published(workers[0], workers[0].parts.topics.customer_events)
        first: dict[str, dict[str, Any]] = {}
        for message in events:  # two relays may both publish an event: duplicates allowed
            first.setdefault(message["value"]["id"], message)
        by_customer: dict[str, list[int]] = {}
        for message in first.values():
            customer = message["key"].split(":", 1)[1]
            by_customer.setdefault(customer, []).append(message["value"]["sequence"])
        assert sorted(by_customer) == sorted(customer_ids)
        for sequences in by_customer.values():
            assert sequences == [1, 2, 3, 4]  # created + 3 interactions, in order, none lost


async def test_worker_stopped_mid_backlog_loses_nothing_and_applies_nothing_twice(
    services: Services,
) -> None:
    total = 150
    async with deployment(services, ("worker",), partitions=2) as ([first], probe):
        attach_probe(first, probe)
        for index in range(total):
            envelope = {
                "commandId": f"backlog-{index}",
                "type": "customer.create",
                "tenantId": TENANT,
                "actorId": "producer",
                "payload": {"name": f"Backlog {index}"},
            }
            key = f"{TENANT}:{created_customer_id(TENANT, envelope['commandId'])}".encode()
            await publish_raw(
                first, first.parts.topics.commands, json.dumps(envelope).encode(), key, {}
            )
        journal = first.parts.store.db[JOURNAL]
        deadline = time.monotonic() + 30
        while await journal.count_documents({}) < 10:
            assert time.monotonic() < deadline, "the first worker never got going"
            await asyncio.sleep(0.01)
        await first.stop()  # SIGTERM's path: in-flight finishes and commits, clients close

        # the same database: on the in-memory store, the same store object
        second = Runtime(bootstrap(first.parts.settings, role="worker", store=shared(first)))
        await second.start()
        try:
            attach_probe(second, probe)
            await consuming(second)
            await processed(second)
            db = second.parts.store.db
            assert await db[JOURNAL].count_documents({}) == total
            assert await db[CUSTOMERS].count_documents({}) == total
            statuses = await db[JOURNAL].distinct("result.status")
            assert statuses == ["succeeded"]
            events = await published(second, second.parts.topics.customer_events)
            assert len({e["value"]["id"] for e in events}) == total  # each once at least
            assert await published(second, second.parts.topics.commands_dlq) == []
        finally:
            await second.stop()
