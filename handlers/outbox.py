"""Outbox records: how a command's change events are kept in its journal entry, and the
CloudEvents the relay publishes from them.

A record keeps only what the entry does not already hold. The CloudEvents attributes
that are the same for all of a command's events (time, tenant, causation) come from the
entry, the event id is derived from the command id and the event's position, and an event
whose data is the public view of a document the command writes names that document in
the entry's changes instead of repeating it: an import's entry would otherwise hold every
customer twice, and a command's commit and the relay's read would copy both.
"""

from collections.abc import Sequence
from typing import Any

from handlers.decision import EventDraft
from schemas.events import (
    CHANGE_EVENT_SOURCE,
    DATA_CONTENT_TYPE,
    SPEC_VERSION,
    change_event_type,
)
from schemas.ids import derived_id, partition_key
from storage.changes import Change, inserted_document
from storage.database import Document
from storage.documents import public

OutboxRecord = dict[str, Any]


def outbox_records(
    drafts: Sequence[EventDraft], sequences: Sequence[int], changes: Sequence[Change]
) -> list[OutboxRecord]:
    """The records of the drafts, in order; `sequences[i]` is draft i's per-customer
    sequence. One record per draft, except that drafts about consecutive documents of one
    `insert_many`, each the customer its document is, of one type and sequence (an
    import's `created` events), share one record: a run of `count` events, which
    `each_record` expands. An import's entry so holds one record, not thousands."""
    written = _written_documents(changes)
    records: list[OutboxRecord] = []
    run: OutboxRecord | None = None  # the last record, while drafts extend it
    for position, (draft, sequence) in enumerate(zip(drafts, sequences, strict=True)):
        event_type = change_event_type(draft.entity, draft.action)
        where = None if draft.document is None else written.get(id(draft.document))
        if where is not None and len(where) == 2 and _is_its_customer(draft):
            if run is not None and _extends(run, position, event_type, sequence, where):
                run["count"] += 1
                continue
            run = {
                "position": position,
                "type": event_type,
                "sequence": sequence,
                "dataOf": where,
                "count": 1,
            }
            records.append(run)
            continue
        run = None
        record: OutboxRecord = {
            "position": position,  # the event id derives from it
            "type": event_type,
            "subject": draft.subject,
            "customerId": draft.customer_id,  # the partition key
            "sequence": sequence,
        }
        if where is None:
            record["data"] = draft.view()
        else:
            record["dataOf"] = where  # [change] or [change, document of an insert_many]
        records.append(record)
    return records


def _is_its_customer(draft: EventDraft) -> bool:
    """The draft is about the customer its document is: subject and key are its id."""
    assert draft.document is not None
    return draft.subject == draft.customer_id == draft.document["_id"]


def _extends(
    run: OutboxRecord, position: int, event_type: str, sequence: int, where: list[int]
) -> bool:
    """The event is the next one of `run`: next position, next document, same kind."""
    count = run["count"]
    change, first = run["dataOf"]
    return (
        position == run["position"] + count
        and where == [change, first + count]
        and event_type == run["type"]
        and sequence == run["sequence"]
    )


def each_record(entry: Document) -> list[OutboxRecord]:
    """The entry's records one event each, in order: a run becomes its events, each about
    its document's customer."""
    records: list[OutboxRecord] = []
    for record in entry["events"]:
        if "count" not in record:
            records.append(record)
            continue
        change, first = record["dataOf"]
        docs = entry["changes"][change]["docs"]
        for offset in range(record["count"]):
            customer_id = docs[first + offset]["_id"]
            records.append(
                {
                    "position": record["position"] + offset,
                    "type": record["type"],
                    "subject": customer_id,
                    "customerId": customer_id,
                    "sequence": record["sequence"],
                    "dataOf": [change, first + offset],
                }
            )
    return records


def _written_documents(changes: Sequence[Change]) -> dict[int, list[int]]:
    """Where each document the changes write sits in them, by object identity: a draft
    names the very document its use case put in a change."""
    where: dict[int, list[int]] = {}
    for position, change in enumerate(changes):
        if "doc" in change:
            where[id(change["doc"])] = [position]
        for index, doc in enumerate(change.get("docs", ())):
            where[id(doc)] = [position, index]
    return where


def event_id(tenant_id: str, command_id: str, position: int) -> str:
    """Stable across redeliveries and relay restarts: consumers deduplicate on it."""
    return derived_id(tenant_id, command_id, "event", str(position))


def wire_event(entry: Document, record: OutboxRecord) -> dict[str, Any]:
    """The CloudEvent published for `record` of journal `entry` (DESIGN §4)."""
    if _written_whole(record):
        return {key: value for key, value in record.items() if not key.startswith("_")}
    if "data" in record:
        data = record["data"]
    else:
        change = entry["changes"][record["dataOf"][0]]
        where = record["dataOf"]
        data = public(change["doc"] if len(where) == 1 else inserted_document(change, where[1]))
    return {
        "specversion": SPEC_VERSION,
        "id": event_id(entry["tenantId"], entry["commandId"], record["position"]),
        "source": CHANGE_EVENT_SOURCE,
        "type": record["type"],
        "subject": record["subject"],
        "time": entry["decidedAt"],
        "datacontenttype": DATA_CONTENT_TYPE,
        "tenantid": entry["tenantId"],
        "sequence": record["sequence"],
        "causationid": entry["commandId"],
        "data": data,
    }


def event_key(entry: Document, record: OutboxRecord) -> bytes:
    customer_id = record["_customerId"] if _written_whole(record) else record["customerId"]
    return partition_key(entry["tenantId"], customer_id)


def _written_whole(record: OutboxRecord) -> bool:
    """Entries committed before outbox records kept each event whole (internal fields
    prefixed with `_`); one still unpublished after an upgrade is published as it is."""
    return "specversion" in record


# What the relay reads of an entry to publish its events.
PUBLISHING_FIELDS = {"tenantId": 1, "commandId": 1, "decidedAt": 1, "changes": 1, "events": 1}
