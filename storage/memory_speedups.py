"""Query acceleration for the in-memory store; never changes which documents match.

mongomock evaluates its generic filter engine on every document for every query
(~20 µs each) and re-scans a collection per inserted document to enforce unique indexes,
so with a few thousand documents every command and import became slow and grew with the
data. Here: `_id` look-ups go straight to the document, equality clauses narrow the
candidates through lazily built hash indexes and settle plain cases with a comparison,
batch inserts check unique keys in one pass, and simple sorts use a BSON-order key and
copy only the requested page. mongomock's own engine still decides whatever is not plain.
"""

import copy
from collections.abc import Iterable
from typing import Any

from mongomock.filtering import filter_applies
from mongomock.helpers import get_value_by_dot
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]

_MISSING = object()
_SCALARS = (str, int, float, bool)


def _in_strings(value: Any) -> bool:
    """`{"$in": [str, ...]}` with at least one value."""
    if not (isinstance(value, dict) and set(value) == {"$in"}):
        return False
    values = value["$in"]
    return isinstance(values, list) and bool(values) and all(isinstance(v, str) for v in values)


def _equality_checks(filter_: Any) -> list[tuple[str, Any]]:
    """Top-level `field: scalar` and `field: {"$in": [strings]}` clauses (also inside a
    top-level `$and`), which a plain comparison can refute without mongomock's engine.
    `$in` clauses come first: they are the selective ones."""
    checks: list[tuple[str, Any]] = []
    if not isinstance(filter_, dict):
        return checks
    for key, value in filter_.items():
        if key == "$and" and isinstance(value, list):
            for clause in value:
                checks += _equality_checks(clause)
        elif key.startswith("$") or "." in key:
            continue
        elif isinstance(value, _SCALARS):
            checks.append((key, value))
        elif _in_strings(value):
            checks.insert(0, (key, frozenset(value["$in"])))
    return checks


_CONTAINERS = (list, dict)


REFUTED, CONFIRMED, UNDECIDED = 0, 1, 2


def _verdict(doc: Document, checks: list[tuple[str, Any]]) -> int:
    """REFUTED when a clause certainly fails; CONFIRMED when every clause certainly holds
    (same-typed scalars, so no Mongo-vs-Python equality subtleties); else UNDECIDED.
    Arrays and sub-documents are left to mongomock (an array matches a scalar it
    contains); a missing field never equals a scalar."""
    verdict = CONFIRMED
    for key, expected in checks:
        actual = doc.get(key, _MISSING)
        if type(actual) in _CONTAINERS:
            verdict = UNDECIDED
        elif type(expected) is frozenset:
            if actual not in expected:  # _MISSING is never in a set of strings
                return REFUTED
            if type(actual) is not str:
                verdict = UNDECIDED
        elif actual is _MISSING or actual != expected:
            return REFUTED
        elif type(actual) is not type(expected):
            verdict = UNDECIDED  # 1 == True in Python, not in MongoDB
    return verdict


def _only_checks(filter_: Any, checks: list[tuple[str, Any]]) -> bool:
    """The filter says nothing beyond its equality checks (CONFIRMED then means a match)."""
    return (
        isinstance(filter_, dict)
        and "$and" not in filter_
        and len(filter_) == len(checks)
        and len(checks) == len({key for key, _ in checks})
    )


class FieldIndexes:
    """Hash indexes on the fields queries compare for equality, built on first use.

    Inserts extend them; any other write drops them (rebuilt on the next query): updates
    change documents in place inside mongomock, so there is no cheaper safe rule. Documents
    whose value is an array or sub-document are always candidates (an array matches a
    scalar it contains); a document without the field never equals a scalar.
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        self._fields: dict[str, tuple[dict[Any, list[Any]], list[Any]]] = {}
        self.suspended = False  # during an in-place write: scan instead

    def invalidate(self) -> None:
        self._fields.clear()

    def added(self, docs: Iterable[Document]) -> None:
        for field, (by_value, always) in self._fields.items():
            for doc in docs:
                self._index(field, by_value, always, doc)

    @staticmethod
    def _index(
        field: str, by_value: dict[Any, list[Any]], always: list[Any], doc: Document
    ) -> None:
        value = doc.get(field, _MISSING)
        if type(value) in _CONTAINERS:
            always.append(doc["_id"])
        elif value is not _MISSING:
            by_value.setdefault(value, []).append(doc["_id"])

    def buckets(self, field: str, expected: Any) -> list[list[Any]]:
        """Id lists that together hold every document that may match `field == expected`
        (or `$in`), without copying them: the caller picks the smallest set of buckets."""
        if field not in self._fields:
            by_value: dict[Any, list[Any]] = {}
            always: list[Any] = []
            for doc in list(self._store._documents.values()):
                self._index(field, by_value, always, doc)
            self._fields[field] = (by_value, always)
        by_value, always = self._fields[field]
        values = expected if type(expected) is frozenset else (expected,)
        found = [by_value[value] for value in values if value in by_value]
        return [*found, always] if always else found


def fast_iteration(collection: Any, indexes: FieldIndexes) -> Any:
    """A drop-in for mongomock's `Collection._iter_documents`: same matches (mongomock's
    `filter_applies` still decides), but `_id` look-ups go straight to the document and
    equality clauses narrow the candidates through `indexes` and refute the rest with a
    plain comparison. Without it every query runs the full filter engine on every
    document (~20 µs each), which made a command's cost grow with the data."""
    store = collection._store

    def iterate(filter_: Any) -> Any:
        if store.is_empty:
            filter_applies(filter_, {})  # mongomock validates the filter even then
        by_id: Any = filter_.get("_id", _MISSING) if isinstance(filter_, dict) else _MISSING
        checks = _equality_checks(filter_)
        if isinstance(by_id, _SCALARS):
            ids: list[Any] | None = [by_id]
        elif _in_scalars(by_id):
            ids = list(dict.fromkeys(by_id["$in"]))
        elif checks and not indexes.suspended:
            narrowest = min(
                (indexes.buckets(f, v) for f, v in checks),
                key=lambda lists: sum(len(ids) for ids in lists),
            )
            ids = list(dict.fromkeys(i for bucket in narrowest for i in bucket))
        else:
            ids = None
        if ids is None:
            candidates = list(store.documents)
        else:
            # The store's own dict: its per-item reader lock costs more than the look-up,
            # and this adapter only ever runs on the event loop's thread.
            documents = store._documents
            candidates = [documents[i] for i in ids if i in documents]
        settled = _only_checks(filter_, checks)
        return (doc for doc in candidates if _matches(doc, filter_, checks, settled))

    return iterate


def _matches(doc: Document, filter_: Any, checks: list[tuple[str, Any]], settled: bool) -> bool:
    verdict = _verdict(doc, checks)
    if verdict == REFUTED:
        return False
    if verdict == CONFIRMED and settled:
        return True
    return bool(filter_applies(filter_, doc))


def _in_scalars(value: Any) -> bool:
    if not (isinstance(value, dict) and set(value) == {"$in"}):
        return False
    values = value["$in"]
    return isinstance(values, list) and all(isinstance(v, _SCALARS) for v in values)


class UniqueKeys:
    """The unique-index keys present in a collection, built once for a batch insert."""

    def __init__(self, collection: Any) -> None:
        self.indexes = [i for i in collection._store.indexes.values() if i.get("unique")]
        self._taken: list[set[tuple[Any, ...]]] = []
        documents = list(collection._store.documents) if self.indexes else []
        for index in self.indexes:
            keys = set()
            for doc in documents:
                key = self._key(index, doc)
                if key is not None:
                    keys.add(key)
            self._taken.append(keys)

    @staticmethod
    def _key(index: Document, doc: Document) -> tuple[Any, ...] | None:
        """The document's key in the index, None when the index does not cover it."""
        partial = index.get("partialFilterExpression")
        if partial is not None and not filter_applies(partial, doc):
            return None
        values = []
        for field, _ in index["key"]:
            try:
                values.append(repr(get_value_by_dot(doc, field)))
            except KeyError:
                values.append(repr(None))
        if index.get("sparse") and set(values) == {repr(None)}:
            return None
        return tuple(values)

    def claim(self, doc: Document) -> None:
        """Reserve the document's keys; DuplicateKeyError if one is taken."""
        keys = [self._key(index, doc) for index in self.indexes]
        for key, taken in zip(keys, self._taken, strict=True):
            if key is not None and key in taken:
                raise DuplicateKeyError("E11000 Duplicate Key Error", 11000)
        for key, taken in zip(keys, self._taken, strict=True):
            if key is not None:
                taken.add(key)


_NULL, _NUMBER, _STRING = 1, 2, 3  # BSON comparison order of the types sorted here


def _bson_rank(value: Any) -> tuple[int, Any] | None:
    if value is None or value is _MISSING:
        return (_NULL, 0)
    if type(value) is str:
        return (_STRING, value)
    if type(value) in (int, float):
        return (_NUMBER, value)
    return None  # other types: leave the sort to mongomock


def sorted_page(
    docs: list[Document], sort: list[tuple[str, int]], skip: int, limit: int
) -> list[Document] | None:
    """The page of `docs` in `sort` order (copies), or None when a sort value is not a
    null, number or string, or a key is dotted (mongomock then sorts)."""
    if any("." in field for field, _ in sort):
        return None
    ordered = list(docs)
    for field, direction in reversed(sort):  # stable sorts, least significant key first
        keyed = []
        for doc in ordered:
            rank = _bson_rank(doc.get(field, _MISSING))
            if rank is None:
                return None
            keyed.append((rank, doc))
        keyed.sort(key=lambda pair: pair[0], reverse=direction < 0)
        ordered = [doc for _, doc in keyed]
    end = skip + limit if limit else None
    return [copy.deepcopy(doc) for doc in ordered[skip:end]]
