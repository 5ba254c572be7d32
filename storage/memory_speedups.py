"""Query acceleration for the in-memory store; never changes which documents match.

mongomock evaluates its generic filter engine on every document for every query
(~20 µs each) and runs a query per stored or changed document to enforce unique indexes,
so with a few thousand documents every command and import became slow and grew with the
data. Here: `_id` look-ups go straight to the document, equality clauses narrow the
candidates through hash indexes (built on first use, kept current by every write) and
settle plain cases with a comparison, unique indexes are key maps (`memory_unique`), and
simple sorts pick the requested page. mongomock's own engine still decides whatever is
not plain.
"""

import heapq
import operator
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from mongomock.filtering import filter_applies

from storage.memory_keyed_ids import APART, NO_KEY, KeyedIds, held_by
from storage.memory_unique import UniqueKeyIndex

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
_SAME_BUCKET_SCALARS = frozenset({str, int, bool, type(None)})  # NaN is not even equal to itself


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
    """The filter says nothing beyond its equality checks (CONFIRMED then means a match):
    each of its clauses, also inside a top-level `$and` (as unique checks of partial
    indexes write them), is one of the checks."""
    return _clause_count(filter_) == len(checks)


def _clause_count(filter_: Any) -> int:
    """Clauses of a filter made of field clauses and non-empty `$and`s of such filters;
    -1 for any other shape."""
    if not isinstance(filter_, dict):
        return -1
    count = 0
    for key, value in filter_.items():
        if key != "$and":
            count += 1
            continue
        if not isinstance(value, list) or not value:
            return -1
        for clause in value:
            inner = _clause_count(clause)
            if inner < 0:
                return -1
            count += inner
    return count


class _FieldIndex(KeyedIds):
    """One field's hash index: document ids by value. Documents whose value is an array
    or sub-document are always candidates (an array matches a scalar it contains); a
    document without the field never equals a scalar, so it is in no bucket."""

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def add(self, doc: Document) -> None:
        """`KeyedIds.add` with the key computed inline (the field's value, APART for an
        array or sub-document, none when missing): every index adds every inserted
        document (an import: thousands, each into every index), and the call to `key`
        cost a quarter of it."""
        value = doc.get(self.field, NO_KEY)
        if value is NO_KEY:
            return
        doc_id = doc["_id"]
        if type(value) in _CONTAINERS:
            self.apart[doc_id] = None
            value = APART
        else:
            self.hold(value, doc_id)
        self._key_of[doc_id] = value

    def add_many(self, docs: list[Document]) -> None:
        """`add` of each document. Where all hold the same scalar (an import's tenant, a
        flag every new document has alike), they join its bucket in one update: Python's
        per-document steps were most of an import's index upkeep. A single document (an
        insert_one) takes `add`, which costs less than gathering a batch of one."""
        if len(docs) == 1:
            self.add(docs[0])
            return
        values = [doc.get(self.field, NO_KEY) for doc in docs]
        first = values[0]
        # `count` compares as the bucket dict does (1 == True): same bucket either way
        if type(first) in _SAME_BUCKET_SCALARS and values.count(first) == len(values):
            ids = dict.fromkeys([doc["_id"] for doc in docs])
            self.hold_all(first, ids)
            self._key_of.update(dict.fromkeys(ids, first))
            return
        for doc in docs:
            self.add(doc)


class FieldIndexes:
    """Hash indexes on the fields queries compare for equality, built on first use and
    kept current by every write of this adapter.

    mongomock changes documents in place during an update, and checks unique indexes
    right after each change: `resync` re-indexes the document at that moment (the
    adapter hooks it in before each unique check), so the check sees the document where
    it now belongs. Every document a write visits is also recorded (`touch`) and
    re-indexed when the write ends, which covers rollbacks and deletions.

    A new document enters the unique indexes at once (the next document's check must see
    it) and the field indexes when the write ends, all of a batch's together (`add_many`);
    anything that reads or changes the field indexes before then takes them in first.
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        self._fields: dict[str, _FieldIndex] = {}
        self._uniques: dict[str, UniqueKeyIndex] = {}  # by index name
        self._every: list[_FieldIndex | UniqueKeyIndex] = []  # both, for the writes
        self._unique_list: list[UniqueKeyIndex] = []
        self._pending: list[Document] = []  # stored, not yet in the field indexes
        self.touched: dict[Any, None] | None = None  # ids written by the running write
        self.visiting = False  # the running write may change the documents it visits

    def invalidate(self) -> None:
        self._fields.clear()
        self._uniques.clear()
        self._every = []
        self._unique_list = []
        self._pending = []

    def _listed(self) -> None:
        """Every write walks all indexes: the list is made when an index is, not per write."""
        self._every = [*self._fields.values(), *self._uniques.values()]
        self._unique_list = list(self._uniques.values())

    def unique_collision(self, doc: Document) -> bool | None:
        """Whether `doc` (stored and indexed) takes a key of a unique index another
        document holds; None when one of them leaves it to mongomock's own check."""
        collides: bool | None = False
        for name, spec in self._store.indexes.items():
            if not spec.get("unique"):
                continue
            index = self._uniques.get(name)
            if index is None or index.spec is not spec:  # new, or dropped and re-created
                partial = spec.get("partialFilterExpression")
                covers = None if partial is None else matcher(partial)
                index = UniqueKeyIndex(spec, self._store._documents, covers)
                self._uniques[name] = index
                self._listed()
            verdict = index.collides(doc)
            if verdict:
                return True
            if verdict is None:
                collides = None
        return collides

    def begin_write(self, *, visits: bool = False) -> None:
        self.touched = {}
        self.visiting = visits

    def touch(self, doc_id: Any) -> None:
        if self.touched is not None:
            self.touched[doc_id] = None

    def added(self, doc: Document) -> None:
        """A new document, as stored (no need to treat it as touched): in the unique
        indexes now, in the field indexes when the write ends."""
        for index in self._unique_list:
            index.add(doc)
        if self._fields:
            self._pending.append(doc)

    def _take_pending(self) -> None:
        """The field indexes take the documents added since they last did."""
        pending, self._pending = self._pending, []
        if pending:
            for index in self._fields.values():
                index.add_many(pending)

    def removed(self, doc_id: Any) -> None:
        self._take_pending()
        for index in self._every:
            index.remove(doc_id)

    def resync(self, doc_id: Any) -> None:
        """Re-index one document as it is stored now (or drop it, when it is gone)."""
        self._take_pending()
        doc = self._store._documents.get(doc_id)
        for index in self._every:
            index.remove(doc_id)
            if doc is not None:
                index.add(doc)

    def end_write(self) -> None:
        self._take_pending()
        touched, self.touched = self.touched or {}, None
        self.visiting = False
        for doc_id in touched:
            self.resync(doc_id)

    def buckets(self, field: str, expected: Any) -> list[Collection[Any]]:
        """Id collections that together hold every document that may match
        `field == expected` (or `$in`), without copying them: the caller picks the
        smallest set of buckets."""
        self._take_pending()  # a query in the middle of a write (mongomock's unique check)
        index = self._fields.get(field)
        if index is None:
            index = self._fields[field] = _FieldIndex(field)
            for doc in list(self._store._documents.values()):
                index.add(doc)
            self._listed()
        values = expected if type(expected) is frozenset else (expected,)
        by_key = index.by_key
        found: list[Collection[Any]] = [held_by(by_key[v]) for v in values if v in by_key]
        if index.apart:
            found.append(index.apart)
        return found


def fast_iteration(collection: Any, indexes: FieldIndexes) -> Any:
    """A drop-in for mongomock's `Collection._iter_documents`: same matches (mongomock's
    `filter_applies` still decides), but `_id` look-ups go straight to the document and
    equality clauses narrow the candidates through `indexes` and refute the rest with a
    plain comparison. Without it every query runs the full filter engine on every
    document (~20 µs each), which made a command's cost grow with the data. During a
    write, every document it yields is recorded as touched (it may be changed in place)."""
    store = collection._store

    def iterate(filter_: Any) -> Any:
        if store.is_empty:
            if matches_nothing(store, filter_):
                return iter(())
            filter_applies(filter_, {})  # mongomock validates any other filter even then
        checks = _equality_checks(filter_)
        by_id: Any = filter_.get("_id", _MISSING) if isinstance(filter_, dict) else _MISSING
        ids = named_ids(by_id)
        if ids is None and checks:
            narrowest = min(
                (indexes.buckets(f, v) for f, v in checks),
                key=lambda lists: sum(len(ids) for ids in lists),
            )
            ids = list(dict.fromkeys(i for bucket in narrowest for i in bucket))
        if ids is None:
            candidates = list(store.documents)
        else:
            # The store's own dict: its per-item reader lock costs more than the look-up,
            # and this adapter only ever runs on the event loop's thread.
            documents = store._documents
            candidates = [documents[i] for i in ids if i in documents]
        settled = _only_checks(filter_, checks)
        matches = (doc for doc in candidates if _matches(doc, filter_, checks, settled))
        return _touching(matches, indexes) if indexes.visiting else matches

    return iterate


def matches_nothing(store: Any, filter_: Any) -> bool:
    """The collection is empty and the filter only plain equality clauses: no document
    matches, and there is nothing mongomock would refuse (other filters it validates)."""
    return bool(store.is_empty) and _only_checks(filter_, _equality_checks(filter_))


def _touching(docs: Iterable[Document], indexes: FieldIndexes) -> Iterator[Document]:
    for doc in docs:
        indexes.touch(doc["_id"])
        yield doc


def _matches(doc: Document, filter_: Any, checks: list[tuple[str, Any]], settled: bool) -> bool:
    verdict = _verdict(doc, checks)
    if verdict == REFUTED:
        return False
    if verdict == CONFIRMED and settled:
        return True
    return bool(filter_applies(filter_, doc))


def matcher(filter_: Document) -> Any:
    """`filter_applies(filter_, doc)` as a function of `doc`, plain comparisons first."""
    checks = _equality_checks(filter_)
    settled = _only_checks(filter_, checks)
    if settled and len(checks) == 1 and type(checks[0][1]) is not frozenset:
        # One `field: scalar` clause, as a partial unique index's `{"_deleted": False}`
        # (checked for every document stored): a value of the same type is decided by
        # plain equality (`_verdict`'s CONFIRMED or REFUTED), any other goes the full way.
        field, expected = checks[0]
        kind = type(expected)

        def one_clause(doc: Document) -> bool:
            actual = doc.get(field, _MISSING)
            if type(actual) is kind:
                return bool(actual == expected)
            return _matches(doc, filter_, checks, settled)

        return one_clause
    return lambda doc: _matches(doc, filter_, checks, settled)


def named_ids(wanted: Any) -> list[Any] | None:
    """The ids an `_id` clause names, `id` or `{"$in": [ids]}` of scalars (without
    repeats, in order); None for any other clause."""
    if isinstance(wanted, _SCALARS):
        return [wanted]
    if not (isinstance(wanted, dict) and set(wanted) == {"$in"}):
        return None
    values = wanted["$in"]
    if isinstance(values, list) and all(isinstance(v, _SCALARS) for v in values):
        return list(dict.fromkeys(values))
    return None


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
    """The page of `docs` in `sort` order (the stored documents: the caller copies), or
    None when a sort value is not a null, number or string, or a key is dotted (mongomock
    then sorts)."""
    if any("." in field for field, _ in sort):
        return None
    end = skip + limit if limit else None
    fields = [field for field, _ in sort]
    directions = {direction < 0 for _, direction in sort}
    if len(directions) == 1 and all(type(doc.get(f)) is str for doc in docs for f in fields):
        return _string_page(docs, fields, directions.pop(), skip, end)
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
    return ordered[skip:end]


def _string_page(
    docs: list[Document], fields: list[str], descending: bool, skip: int, end: int | None
) -> list[Document]:
    """The common list page: string keys (ISO times, ids), one direction. Only the first
    `end` documents are selected (a heap), not the whole result sorted: the page costs
    little more than reading the matches, and allocates next to nothing that outlives
    it (which kept the garbage collector's full passes, over the whole in-memory data,
    from growing with it)."""
    key = operator.itemgetter(*fields)
    if end is not None and end < len(docs):
        select = heapq.nlargest if descending else heapq.nsmallest
        return select(end, docs, key=key)[skip:]  # documented as the sorted()[:n] order
    return sorted(docs, key=key, reverse=descending)[skip:end]
