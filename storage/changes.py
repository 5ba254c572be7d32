"""Idempotent writes that a committed decision applies, and the applier.

A decision is committed (one journal insert) before any of its changes are applied, and a
redelivered command applies the same stored changes again. So every change must be safe to
apply twice: inserts use deterministic ids, puts replace the whole document, `max` only
moves a counter forward. Only the first change may fail on a unique index (somebody else
took the name meanwhile); the decision then turns into that change's rejection.
"""

from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from storage.database import Database, Document

Change = dict[str, Any]
ConflictError = dict[str, str]  # {"code", "message", "kind"}


def insert(collection: str, doc: Document, on_conflict: ConflictError | None = None) -> Change:
    """Insert a new document (its `_id` is deterministic, so a second apply is a no-op)."""
    return {"op": "insert", "coll": collection, "doc": doc, "onConflict": on_conflict}


def insert_many(
    collection: str,
    docs: list[Document],
    on_conflict: ConflictError,
    shared: Document | None = None,
) -> Change:
    """Insert many new documents in one round trip; items that collide are reported.

    `shared`: the fields every document has with the same value (an import's times, owner
    defaults, empty profile), kept once; each of `docs` then holds only its own fields,
    none of them in `shared`. The change is what the journal commits, so an import's
    commit copies its customers' own fields rather than whole documents (a third)."""
    change = {"op": "insert_many", "coll": collection, "docs": docs, "onConflict": on_conflict}
    if shared:
        change["shared"] = shared
    return change


def inserted_documents(change: Change) -> list[Document]:
    """The whole documents an `insert_many` change inserts (own fields, then shared)."""
    shared = change.get("shared")
    if not shared:
        return list(change["docs"])
    return [{**doc, **shared} for doc in change["docs"]]


def inserted_document(change: Change, index: int) -> Document:
    """The whole `index`-th document of an `insert_many` change."""
    return {**change["docs"][index], **change.get("shared", {})}


def put(collection: str, doc: Document, on_conflict: ConflictError | None = None) -> Change:
    """Replace (or create) a whole document by `_id`."""
    return {"op": "put", "coll": collection, "doc": doc, "onConflict": on_conflict}


def replace_if(
    collection: str, doc: Document, expected: Document, on_conflict: ConflictError
) -> Change:
    """Replace the document `doc["_id"]` while it still has the `expected` field values
    (or create it if it is gone); once somebody else changed it, a conflict. A second
    apply finds `doc` itself in place: a no-op."""
    return {
        "op": "replace_if",
        "coll": collection,
        "doc": doc,
        "expected": expected,
        "onConflict": on_conflict,
    }


def delete(collection: str, doc_id: str) -> Change:
    """Remove a document by `_id` (used for link documents such as bindings)."""
    return {"op": "delete", "coll": collection, "id": doc_id}


def advance(collection: str, doc_id: str, field_name: str, value: int) -> Change:
    """Move a counter forward to at least `value` (`$max`, so re-applying is harmless)."""
    return {"op": "max", "coll": collection, "id": doc_id, "field": field_name, "value": value}


@dataclass
class ApplyOutcome:
    """What applying found: a rejection of the whole decision, or colliding batch items."""

    rejection: ConflictError | None = None
    conflicted_ids: set[str] = field(default_factory=set)


async def apply_changes(db: Database, changes: list[Change]) -> ApplyOutcome:
    """Apply a committed decision's changes in order; safe to call again after a crash."""
    outcome = ApplyOutcome()
    counters: list[Change] = []
    for position, change in enumerate(changes):
        op = change["op"]
        collection = db[change["coll"]]
        if op == "max":
            counters.append(change)  # batched below: one round trip for any number
            continue
        try:
            if op == "insert":
                await collection.insert_one(change["doc"])
            elif op == "put":
                doc = change["doc"]
                await collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
            elif op == "replace_if":
                doc = change["doc"]
                selected = {**change["expected"], "_id": doc["_id"]}
                await collection.replace_one(selected, doc, upsert=True)  # taken: duplicate
            elif op == "delete":
                await collection.delete_one({"_id": change["id"]})
            elif op == "insert_many":
                outcome.conflicted_ids |= await _insert_many(db, change)
            else:
                raise ValueError(f"unknown change op {op!r}")
        except DuplicateKeyError:
            if op == "insert" and await _already_there(db, change["coll"], change["doc"]["_id"]):
                continue  # applied by an earlier attempt
            if op == "replace_if" and await _holds(db, change["coll"], change["doc"]):
                continue  # applied by an earlier attempt
            if position == 0 and change.get("onConflict"):
                outcome.rejection = change["onConflict"]
                return outcome
            raise
    if counters:
        await _advance_counters(db, counters)
    return outcome


async def _already_there(db: Database, collection: str, doc_id: str) -> bool:
    return await db[collection].find_one({"_id": doc_id}, {"_id": 1}) is not None


async def _holds(db: Database, collection: str, doc: Document) -> bool:
    return await db[collection].find_one({"_id": doc["_id"]}) == doc


async def _insert_many(db: Database, change: Change) -> set[str]:
    """Unordered bulk insert; returns ids that collided with *other* documents."""
    docs = inserted_documents(change)
    if not docs:
        return set()
    try:
        await db[change["coll"]].insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        failed = [docs[error["index"]]["_id"] for error in exc.details.get("writeErrors", [])]
        present = await db[change["coll"]].find({"_id": {"$in": failed}}, {"_id": 1}).to_list()
        return set(failed) - {doc["_id"] for doc in present}
    return set()


async def _advance_counters(db: Database, counters: list[Change]) -> None:
    """`$max` of each counter: one unordered bulk write a collection on MongoDB (an import
    advances thousands); one update each in the embedded store, which has no bulk write
    (PyMongo's request objects say what they hold only through private attributes)."""
    by_collection: dict[str, list[Change]] = {}
    for change in counters:
        by_collection.setdefault(change["coll"], []).append(change)
    for name, changes in by_collection.items():
        collection = db[name]
        updates = [
            ({"_id": change["id"]}, {"$max": {change["field"]: change["value"]}})
            for change in changes
        ]
        if isinstance(collection, AsyncCollection):
            await collection.bulk_write([UpdateOne(*update) for update in updates], ordered=False)
        else:
            for update in updates:
                await collection.update_one(*update)
