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
    """One record per draft, in order; `sequences[i]` is draft i's per-customer sequence."""
    written = _written_documents(changes)
    records = []
    for position, (draft, sequence) in enumerate(zip(drafts, sequences, strict=True)):
        record: OutboxRecord = {
            "position": position,  # the event id derives from it
            "type": change_event_type(draft.entity, draft.action),
            "subject": draft.subject,
            "customerId": draft.customer_id,  # the partition key
            "sequence": sequence,
        }
        where = None if draft.document is None else written.get(id(draft.document))
        if where is None:
            record["data"] = draft.view()
        else:
            record["dataOf"] = where  # [change] or [change, document of an insert_many]
        records.append(record)
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
