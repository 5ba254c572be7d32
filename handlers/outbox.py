"""Outbox records: how a command's change events are kept in its journal entry, and the
CloudEvents the relay publishes from them.

A record keeps only what the entry does not already hold. The CloudEvents attributes
that are the same for all of a command's events (time, tenant, causation) come from the
entry, the event id is derived from the command id and the event's position, and an event
whose data is the public view of a document the command writes names that document in
the entry's changes instead of repeating it. An import's `created` events (an
`EventBatch`) are one record, a run naming its `insert_many` change: its entry would
otherwise hold every customer twice and a record per customer, which its commit and the
relay's read would copy.

An update's record also keeps what changed, as decided: the changed fields' names and
their previous values (`changedfields`, `previousvalues`: `schemas.events`). Phones and
emails are masked when the event is built (`EventPii`), never in the journal.
"""

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic_core import to_jsonable_python

from handlers.decision import EventBatch, EventDraft
from schemas.events import (
    CHANGE_EVENT_SOURCE,
    DATA_CONTENT_TYPE,
    SPEC_VERSION,
    change_event_type,
    field_changes,
)
from schemas.ids import (
    COMMAND_SEPARATOR,
    command_key,
    derived_id,
    legacy_derived_id,
    partition_key,
)
from schemas.pii import masked_contacts
from storage.changes import Change, inserted_document
from storage.database import Document
from storage.documents import public

OutboxRecord = dict[str, Any]


class EventPii(StrEnum):
    """`CRM_EVENT_PII`: phones and emails in change events masked (the default) or clear."""

    MASKED = "masked"
    CLEAR = "clear"


def outbox_records(
    drafts: Sequence[EventDraft | EventBatch],
    sequences: Sequence[int],
    changes: Sequence[Change],
) -> list[OutboxRecord]:
    """The records of the drafts, in order; `sequences[i]` is draft i's per-customer
    sequence (a batch's: that of each of its events). A draft is one record; a batch is
    one record too, a run of `count` events that `each_record` expands."""
    written = _written_documents(changes)
    records: list[OutboxRecord] = []
    position = 0  # the event's: the event id derives from it
    for draft, sequence in zip(drafts, sequences, strict=True):
        if isinstance(draft, EventBatch):
            records.append(
                {
                    "position": position,
                    "type": change_event_type(draft.entity, draft.action),
                    "sequence": sequence,
                    "dataOf": [_change_holding(draft, changes), 0],
                    "count": len(draft.documents),
                }
            )
            position += len(draft.documents)
            continue
        record: OutboxRecord = {
            "position": position,
            "type": change_event_type(draft.entity, draft.action),
            "subject": draft.subject,
            "customerId": draft.customer_id,  # the partition key
            "sequence": sequence,
        }
        where = None if draft.document is None else written.get(id(draft.document))
        if where is None:
            record["data"] = draft.view()
        else:
            record["dataOf"] = where  # [change]
        if draft.before is not None:
            record["changed"], record["previous"] = field_changes(
                public(draft.before), draft.view()
            )
        records.append(record)
        position += 1
    return records


def _change_holding(batch: EventBatch, changes: Sequence[Change]) -> int:
    """The position of the `insert_many` change whose documents the batch is about."""
    for position, change in enumerate(changes):
        if change.get("docs") is batch.documents:
            return position
    raise ValueError("an event batch must name the documents of one insert_many change")


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
    """Where each document a single-document change writes sits in them, by object
    identity: a draft names the very document its use case put in a change."""
    return {
        id(change["doc"]): [position] for position, change in enumerate(changes) if "doc" in change
    }


def event_id(tenant_id: str, command_id: str, position: int, *, legacy: bool = False) -> str:
    """Stable across redeliveries and relay restarts: consumers deduplicate on it.
    `legacy`: derived as releases before `schemas.ids.derived_id` changed did."""
    derive = legacy_derived_id if legacy else derived_id
    return derive(tenant_id, command_id, "event", str(position))


def decided_by_older_release(entry: Document) -> bool:
    """Whether an older release decided this entry and its events keep the ids it gave
    them (it may have published some before it stopped). Only a tenant id with `:` has
    ids of another form now (`schemas.ids.derived_id`); such an entry is still under its
    old joined text, or was moved from it at start-up (`legacyIds`)."""
    tenant_id, command_id = entry["tenantId"], entry["commandId"]
    if COMMAND_SEPARATOR not in tenant_id:
        return False
    return bool(entry.get("legacyIds")) or entry["_id"] != command_key(tenant_id, command_id)


def wire_event(
    entry: Document, record: OutboxRecord, pii: EventPii = EventPii.MASKED
) -> dict[str, Any]:
    """The CloudEvent published for `record` of journal `entry` (docs/architecture.md,
    "Change events")."""
    if _written_whole(record):
        whole = {key: value for key, value in record.items() if not key.startswith("_")}
        return {**whole, "data": _disclosed(whole["data"], pii)}
    if "data" in record:
        data = record["data"]
    else:
        where = record["dataOf"]
        change = entry["changes"][where[0]]
        data = public(change["doc"] if len(where) == 1 else inserted_document(change, where[1]))
    event = {
        "specversion": SPEC_VERSION,
        "id": event_id(
            entry["tenantId"],
            entry["commandId"],
            record["position"],
            legacy=decided_by_older_release(entry),
        ),
        "source": CHANGE_EVENT_SOURCE,
        "type": record["type"],
        "subject": record["subject"],
        "time": entry["decidedAt"],
        "datacontenttype": DATA_CONTENT_TYPE,
        "tenantid": entry["tenantId"],
        "sequence": record["sequence"],
        "causationid": entry["commandId"],
    }
    if "origin" in entry:  # entries committed before origins were recorded have none
        event["changeorigin"] = entry["origin"]
    if "changed" in record:
        event["changedfields"] = ",".join(record["changed"])
        previous = to_jsonable_python(_disclosed(record["previous"], pii))
        event["previousvalues"] = json.dumps(previous, ensure_ascii=False, separators=(",", ":"))
    event["data"] = _disclosed(data, pii)
    return event


def _disclosed(value: dict[str, Any], pii: EventPii) -> dict[str, Any]:
    """`value` as the PII setting lets a change event carry it."""
    return value if pii is EventPii.CLEAR else masked_contacts(value)


def event_key(entry: Document, record: OutboxRecord) -> bytes:
    customer_id = record["_customerId"] if _written_whole(record) else record["customerId"]
    return partition_key(entry["tenantId"], customer_id)


def _written_whole(record: OutboxRecord) -> bool:
    """Entries committed before outbox records kept each event whole (internal fields
    prefixed with `_`); one still unpublished after an upgrade is published as it is."""
    return "specversion" in record


# What the relay reads of an entry to publish its events.
PUBLISHING_FIELDS = {
    "state": 1,
    "tenantId": 1,
    "commandId": 1,
    "decidedAt": 1,
    "origin": 1,
    "changes": 1,
    "events": 1,
    "legacyIds": 1,
}
