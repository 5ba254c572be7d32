"""Outbox records: the events the relay publishes are the CloudEvents the contract
describes, an event about a written document does not store that document twice, and a
published journal entry keeps only its result."""

from typing import Any

import pytest

from handlers.decision import EventBatch, EventDraft
from handlers.outbox import EventPii, each_record, outbox_records
from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from schemas.envelope import CommandEnvelope, CommandType
from schemas.events import ChangeEvent
from schemas.ids import derived_id
from storage import changes
from storage.customers import CUSTOMERS
from storage.database import Database
from storage.documents import public
from storage.journal import JOURNAL, CommandJournal, journal_id
from tests.helpers import EventSink, indexed_memory_db

pytestmark = pytest.mark.wire_only


async def run(db: Database, command_id: str, command_type: CommandType, payload: Any) -> None:
    await CommandProcessor(db).process(
        CommandEnvelope(
            command_id=command_id,
            type=command_type,
            tenant_id="t1",
            actor_id="u1",
            payload=payload,
        )
    )


async def relay(db: Database) -> list[dict[str, Any]]:
    """The events as published with `CRM_EVENT_PII=clear` (what is stored, unmasked)."""
    sink = EventSink()
    await OutboxRelay(CommandJournal(db), sink, pii=EventPii.CLEAR).run_once()
    return sink.sent


async def test_published_events_are_change_events_with_stable_ids() -> None:
    db = await indexed_memory_db()
    await run(db, "c1", CommandType.CUSTOMER_CREATE, {"name": "Acme"})
    [created] = await relay(db)
    customer_id = created["subject"]
    await run(db, "c2", CommandType.CUSTOMER_MARK_VIP, {"customerId": customer_id})
    await run(db, "c3", CommandType.CUSTOMER_UPDATE, {"customerId": customer_id, "name": "B"})
    events = [created, *await relay(db)]
    assert [e["type"] for e in events] == [
        "crm.customer.created",
        "crm.customer.vip_marked",
        "crm.customer.updated",
    ]
    assert [e["sequence"] for e in events] == [1, 2, 3]
    for event, command_id in zip(events, ("c1", "c2", "c3"), strict=True):
        model = ChangeEvent.model_validate(event)
        assert model.model_dump(mode="json", exclude={"time"}, exclude_none=True) == {
            k: v for k, v in event.items() if k != "time"
        }
        assert event["id"] == derived_id("t1", command_id, "event", "0")
        assert event["causationid"] == command_id and event["tenantid"] == "t1"
        assert event["changeorigin"] == "kafka"  # a command not proven to be the facade's
        entry = await db[JOURNAL].find_one({"_id": journal_id("t1", command_id)})
        assert entry is not None and event["time"] == entry["decidedAt"]
    stored = await db[CUSTOMERS].find_one({"_id": customer_id})
    assert stored is not None and events[-1]["data"] == public(stored)
    assert events[1]["data"]["vip"]["isVip"] is True and events[1]["data"]["name"] == "Acme"


async def test_an_import_stores_each_customer_once_in_its_entry() -> None:
    db = await indexed_memory_db()
    items = [{"name": f"N{i}", "phone": "13812345678"} for i in range(3)]
    await run(db, "imp", CommandType.CUSTOMER_IMPORT, {"items": [*items, {"name": "N0"}]})
    entry = await db[JOURNAL].find_one({"_id": journal_id("t1", "imp")})
    assert entry is not None
    assert all("data" not in record for record in entry["events"])
    [insert_many] = [c for c in entry["changes"] if c["op"] == "insert_many"]
    assert len(insert_many["docs"]) == 3
    events = await relay(db)
    stored = await db[CUSTOMERS].find({}).sort("name").to_list()
    assert [e["data"] for e in events] == [public(doc) for doc in stored]
    assert [e["id"] for e in events] == [derived_id("t1", "imp", "event", str(i)) for i in range(3)]


async def test_an_import_keeps_what_its_customers_share_once() -> None:
    db = await indexed_memory_db()
    items = [{"name": "N0", "phone": "13812345678"}, {"name": "N1", "tags": ["x"]}]
    await run(db, "imp", CommandType.CUSTOMER_IMPORT, {"items": items})
    await run(db, "one", CommandType.CUSTOMER_CREATE, {"name": "N2", "phone": "13812345678"})
    entry = await db[JOURNAL].find_one({"_id": journal_id("t1", "imp")})
    assert entry is not None
    [insert_many] = entry["changes"]
    assert insert_many["shared"]["createdAt"] == entry["decidedAt"]
    assert all(set(doc).isdisjoint(insert_many["shared"]) for doc in insert_many["docs"])
    events = await relay(db)
    stored = {doc["name"]: doc for doc in await db[CUSTOMERS].find({}).to_list()}
    # the same document, field for field and in the same order, as a single create stores
    imported, created = stored["N0"], stored["N2"]
    assert list(imported) == list(created)
    differing = {k for k in created if imported[k] != created[k]}
    named = {"_id", "name", "_nameKey", "_search"}  # the name and what is derived from it
    assert named <= differing  # and the times, when a ms apart
    assert differing <= {*named, "createdAt", "updatedAt", "profile"}
    assert imported["profile"] == {**created["profile"], "computedAt": entry["decidedAt"]}
    assert imported["createdAt"] == entry["decidedAt"] and imported["_seq"] == 1
    assert set(stored["N1"]) == set(created) - {"phone"} and stored["N1"]["tags"] == ["x"]
    assert [e["data"] for e in events[:2]] == [public(stored["N0"]), public(stored["N1"])]


async def test_an_imports_events_share_one_record_and_go_out_one_each() -> None:
    db = await indexed_memory_db()
    items = [{"name": f"N{i}"} for i in range(3)]
    await run(db, "imp", CommandType.CUSTOMER_IMPORT, {"items": items})
    entry = await db[JOURNAL].find_one({"_id": journal_id("t1", "imp")})
    assert entry is not None
    [record] = entry["events"]
    assert record["count"] == 3 and record["dataOf"] == [0, 0]
    sink = EventSink()
    await OutboxRelay(CommandJournal(db), sink).run_once()
    ids = [doc["_id"] for doc in entry["changes"][0]["docs"]]
    assert [e["subject"] for e in sink.sent] == ids
    assert sink.keys == [f"t1:{customer_id}".encode() for customer_id in ids]
    assert [e["sequence"] for e in sink.sent] == [1, 1, 1]


async def test_an_import_item_whose_name_was_taken_before_it_applied_sends_no_event() -> None:
    db = await indexed_memory_db()
    processor = CommandProcessor(db)
    envelope = CommandEnvelope(
        command_id="imp",
        type=CommandType.CUSTOMER_IMPORT,
        tenant_id="t1",
        actor_id="u1",
        payload={"items": [{"name": f"N{i}"} for i in range(3)]},
    )
    # decided and committed, then a crash before applying (the steps `process` runs)
    entry = await processor._journal_entry(envelope, await processor._decide(envelope))
    assert await CommandJournal(db).commit(entry)
    await run(db, "other", CommandType.CUSTOMER_CREATE, {"name": "N1"})  # takes N1 meanwhile
    result = await processor.process(envelope)  # the redelivery applies the entry
    assert [item["status"] for item in result.data["items"]] == ["created", "duplicate", "created"]
    assert (result.data["created"], result.data["duplicate"]) == (2, 1)
    events = await relay(db)
    imported = [e for e in events if e["causationid"] == "imp"]
    assert [e["data"]["name"] for e in imported] == ["N0", "N2"]
    assert [e["id"] for e in imported] == [derived_id("t1", "imp", "event", p) for p in "02"]


async def test_a_published_entry_keeps_only_its_result() -> None:
    db = await indexed_memory_db()
    await run(db, "c1", CommandType.CUSTOMER_CREATE, {"name": "Acme"})
    before = await db[JOURNAL].find_one({"_id": journal_id("t1", "c1")})
    assert before is not None and before["changes"] and before["events"]
    await relay(db)
    after = await db[JOURNAL].find_one({"_id": journal_id("t1", "c1")})
    assert after is not None and "changes" not in after and "events" not in after
    assert after["published"] is True and after["result"] == before["result"]
    assert await relay(db) == []


def test_a_draft_about_a_document_not_written_keeps_its_data() -> None:
    written = {"_id": "a", "tenantId": "t1", "name": "A"}
    elsewhere = {"_id": "b", "tenantId": "t1", "name": "B"}
    drafts = [
        EventDraft.of_document("customer", "updated", written),
        EventDraft.of_document("customer", "updated", dict(written)),  # an equal copy
        EventDraft.of_document("customer", "updated", elsewhere),
        EventDraft("customer", "noted", "a", "a", {"note": 1}),
    ]
    records = outbox_records(drafts, [1, 2, 1, 3], [changes.put(CUSTOMERS, written)])
    assert records[0]["dataOf"] == [0] and "data" not in records[0]
    assert records[1]["data"] == {"id": "a", "name": "A"}
    assert records[2]["data"] == {"id": "b", "name": "B"}
    assert records[3]["data"] == {"note": 1}
    assert [r["position"] for r in records] == [0, 1, 2, 3]


async def test_an_entry_committed_with_whole_events_before_records_is_still_published() -> None:
    db = await indexed_memory_db()
    whole = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "crm-worker",
        "type": "crm.customer.created",
        "subject": "c9",
        "time": "2026-11-20T08:00:00.000Z",
        "datacontenttype": "application/json",
        "tenantid": "t1",
        "sequence": 1,
        "causationid": "old",
        "data": {"id": "c9", "name": "Old"},
        "_customerId": "c9",
    }
    await db[JOURNAL].insert_one(
        {
            "_id": journal_id("t1", "old"),
            "tenantId": "t1",
            "commandId": "old",
            "state": "applied",
            "decidedAt": whole["time"],
            "firstSequence": 1,
            "result": {"status": "succeeded"},
            "events": [whole],
            "published": False,
        }
    )
    sink = EventSink()
    await OutboxRelay(CommandJournal(db), sink).run_once()
    assert sink.sent == [{k: v for k, v in whole.items() if k != "_customerId"}]
    assert sink.keys == [b"t1:c9"]


def test_a_batch_is_one_record_between_the_positions_of_its_events() -> None:
    docs = [{"_id": "n1"}, {"_id": "n2"}]
    single = {"_id": "a", "tenantId": "t1", "name": "A"}
    drafts = [
        EventDraft("customer", "noted", "a", "a", {"note": 1}),
        EventBatch("customer", "created", docs),
        EventDraft.of_document("customer", "updated", single),
    ]
    batch = changes.insert_many(CUSTOMERS, docs, {"code": "X", "kind": "conflict", "message": "m"})
    records = outbox_records(drafts, [4, 1, 5], [changes.put(CUSTOMERS, single), batch])
    assert [r["position"] for r in records] == [0, 1, 3]
    assert records[1] == {
        "position": 1,
        "type": "crm.customer.created",
        "sequence": 1,
        "dataOf": [1, 0],
        "count": 2,
    }
    expanded = each_record({"events": records, "changes": [changes.put(CUSTOMERS, single), batch]})
    assert [(r["position"], r["subject"], r["sequence"]) for r in expanded] == [
        (0, "a", 4),
        (1, "n1", 1),
        (2, "n2", 1),
        (3, "a", 5),
    ]


def test_a_batch_must_name_the_documents_of_an_insert_many() -> None:
    docs = [{"_id": "n1"}]
    batch = changes.insert_many(
        CUSTOMERS, list(docs), {"code": "X", "kind": "conflict", "message": "m"}
    )
    with pytest.raises(ValueError, match="insert_many"):
        outbox_records([EventBatch("customer", "created", docs)], [1], [batch])  # an equal copy


async def test_a_batch_is_about_new_customers_only() -> None:
    processor = CommandProcessor(await indexed_memory_db())
    docs = [{"_id": "n1"}]
    batch = EventBatch("customer", "created", docs)
    earlier = EventDraft("customer", "noted", "n1", "n1", {"note": 1})
    with pytest.raises(ValueError, match="new customers"):
        await processor._sequences([earlier, batch], {"n1"})  # not the customer's first
    with pytest.raises(ValueError, match="new customers"):
        await processor._sequences([batch], set())  # not created by the decision
    twice = EventBatch("customer", "created", [{"_id": "n1"}, {"_id": "n1"}])
    with pytest.raises(ValueError, match="new customers"):
        await processor._sequences([twice], {"n1"})  # its second event is not its first
    assert await processor._sequences([batch, earlier], {"n1"}) == ([1, 2], {"n1": 2}, {})
