"""Direct paths for the in-memory store's most frequent calls, with mongomock's outcome.

Every command inserts, reads and updates documents by `_id`. mongomock runs those through
its generic machinery: a cursor and a projection engine for each read, a deep-copied
snapshot of the document before each update (for a rollback that a plain `$set` of
non-unique fields never needs), and several walks of each inserted document. Here an
insert validates and copies the document once, a read by `_id` or a plain find copies
only what it returns, and an update by `_id` that only `$set`s or `$unset`s top-level
fields outside every unique index changes the stored document directly. Anything else
returns None (or says it is not plain) and goes to mongomock.
"""

from collections.abc import Callable
from typing import Any, Protocol

from bson import BSON, ObjectId
from bson.errors import InvalidDocument
from mongomock.helpers import patch_datetime_awareness_in_document
from pymongo.errors import DuplicateKeyError

from storage.memory_speedups import named_ids

Document = dict[str, Any]

_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
_PLAIN_OPERATORS = frozenset({"$set", "$unset"})


def clone(value: Any) -> Any:
    """A copy as mongomock returns and stores it: containers rebuilt, scalars shared
    (immutable), datetimes at millisecond precision in naive UTC."""
    kind = type(value)
    # Scalar leaves (most of a document) are shared without a call per leaf.
    if kind is dict:
        return {k: v if type(v) in _IMMUTABLE else clone(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _IMMUTABLE else clone(v) for v in value]
    if kind in _IMMUTABLE:
        return value
    return patch_datetime_awareness_in_document(value)  # datetimes and the rest


class Indexed(Protocol):
    def added(self, doc: Document) -> None: ...
    def removed(self, doc_id: Any) -> None: ...


def insert_document(
    store: Any, data: Any, ensure_uniques: Callable[[Any], None], indexes: Indexed
) -> Any | None:
    """mongomock's `_insert` of one document, without its slower generic walks: the same
    checks (string keys, BSON-encodable, which also refuses a null character in any
    field name, no top-level `$` field, unique `_id` and unique indexes) and the same
    stored copy. None for ids that
    mongomock keeps in a special form (sub-documents): mongomock then inserts."""
    dollar = None  # the first top-level `$` field: refused after the encoding check
    for key in data:
        if not isinstance(key, str):
            raise ValueError("Document keys must be strings")
        if dollar is None and key[:1] == "$":
            dollar = key
    BSON.encode(data)
    if dollar is not None:
        raise InvalidDocument(
            f'Top-level field names cannot start with the "$" sign (found: {dollar})'
        )
    if "_id" not in data:
        data["_id"] = ObjectId()  # on the caller's document too, as PyMongo does
    object_id = data["_id"]
    if isinstance(object_id, dict) or store._ttl_indexes:
        return None
    if object_id in store._documents:
        raise DuplicateKeyError("E11000 Duplicate Key Error", 11000)
    store._documents[object_id] = stored = clone(data)
    indexes.added(stored)  # before the unique check: it must count this document
    try:
        ensure_uniques(stored)
    except DuplicateKeyError:
        del store._documents[object_id]
        indexes.removed(object_id)
        raise
    return object_id


def plain_projection(args: tuple[Any, ...]) -> tuple[bool, dict[str, bool] | None]:
    """(True, fields kept) for an inclusion projection of top-level fields (`_id` kept
    unless excluded); (True, None) for no projection; (False, None) for anything else,
    which mongomock projects."""
    projection = args[0] if len(args) == 1 else None
    if len(args) > 1:
        return False, None
    if projection is None:
        return True, None
    if type(projection) is not dict or not projection:
        return False, None
    kept = {"_id": True}
    for field, value in projection.items():
        if field.startswith("$") or "." in field or type(value) not in (int, bool):
            return False, None
        if field == "_id":
            kept["_id"] = bool(value)
        elif not value:
            return False, None  # an exclusion projection
        else:
            kept[field] = True
    if len(kept) == 1 and not kept["_id"]:
        return False, None  # `{"_id": 0}` alone excludes
    return True, {field: True for field, keep in kept.items() if keep}


def projected(doc: Document, kept: dict[str, bool] | None) -> Document:
    """A copy of `doc` with the kept fields only, in the document's order."""
    if kept is None:
        return clone(doc)
    return {field: clone(value) for field, value in doc.items() if field in kept}


def requested_ids(filter_: Any) -> list[Any] | None:
    """The ids of `{"_id": id}` or `{"_id": {"$in": [ids]}}`, else None."""
    if type(filter_) is not dict or len(filter_) != 1 or "_id" not in filter_:
        return None
    return named_ids(filter_["_id"])


def find_by_id(store: Any, filter_: Any) -> tuple[bool, Document | None]:
    """(True, copy or None) for a plain `_id` look-up; (False, None) when not one."""
    ids = requested_ids(filter_)
    if ids is None or len(ids) != 1 or store._ttl_indexes:
        return False, None
    doc = store._documents.get(ids[0])
    return True, None if doc is None else clone(doc)


def _unique_fields(store: Any) -> set[str]:
    """Top-level fields a unique index keys on or filters on (its partial expression)."""
    fields: set[str] = {"_id"}
    for index in store.indexes.values():
        if index.get("unique"):
            fields |= {field.split(".")[0] for field, _ in index["key"]}
            fields |= _named_fields(index.get("partialFilterExpression") or {})
    return fields


def _named_fields(expression: Any) -> set[str]:
    names: set[str] = set()
    if type(expression) is dict:
        for key, value in expression.items():
            if not key.startswith("$"):
                names.add(key.split(".")[0])
            names |= _named_fields(value)
    elif type(expression) is list:
        for item in expression:
            names |= _named_fields(item)
    return names


def plain_update(
    store: Any, filter_: Any, update: Any, touch: Any, *, multi: bool
) -> Document | None:
    """Apply a `$set`/`$unset` of top-level non-unique fields (or a `$set` of a field of a
    sub-document they hold: `result.completedAt`) to the documents named by `_id`;
    mongomock's raw update result, or None when the update is not that plain or names a
    missing document (an upsert, or nothing matched: mongomock decides)."""
    ids = requested_ids(filter_)
    if ids is None or (len(ids) > 1 and not multi) or store._ttl_indexes:
        return None
    if type(update) is not dict or not update:
        return None
    fields = []  # top-level fields written; plain loops: every command's `finish` is here
    sets = []  # (sub-document or None, field, value) of each `$set`: "a.b" is ("a", "b")
    for operator, operands in update.items():
        if operator not in _PLAIN_OPERATORS or type(operands) is not dict or not operands:
            return None
        for field, value in operands.items():
            if field.startswith("$"):
                return None
            parent, dotted, child = field.partition(".")
            if not dotted:
                fields.append(field)
                if operator == "$set":
                    sets.append((None, field, value))
                continue
            if operator != "$set" or not parent or not child or "." in child:
                return None
            if child.startswith("$"):
                return None
            fields.append(parent)
            sets.append((parent, child, value))
    if not _unique_fields(store).isdisjoint(fields) or len(set(fields)) < len(fields):
        return None  # a unique field, or one path set twice (MongoDB refuses the conflict)
    documents = store._documents
    for doc_id in ids:
        if doc_id not in documents:
            return None
        for parent, _, _ in sets:
            if parent is not None and type(documents[doc_id].get(parent)) is not dict:
                return None  # missing, or not a sub-document: mongomock decides
    sets = [(parent, field, clone(value)) for parent, field, value in sets]
    modified = 0
    for doc_id in ids:
        doc = documents[doc_id]
        touch(doc_id)
        changed = False
        for parent, field, value in sets:
            holder = doc if parent is None else doc[parent]
            if field not in holder or holder[field] != value:
                holder[field] = value if len(ids) == 1 else clone(value)
                changed = True
        for field in update.get("$unset", {}):
            if field in doc:
                del doc[field]
                changed = True
        modified += changed
    return {
        "n": len(ids),
        "nModified": modified,
        "ok": 1,
        "upserted": None,
        "updatedExisting": True,
    }
