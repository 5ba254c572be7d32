"""mongomock behind the slice of PyMongo's async API that storage uses.

mongomock interprets the same filters, update operators, aggregation pipelines and
unique (also partial) indexes as MongoDB, so storage keeps a single implementation.
Calls run inline on the event loop: mongomock is in-memory and not thread-safe, and
running inline also makes each call atomic with respect to other coroutines.
"""

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import mongomock
from mongomock.filtering import filter_applies
from mongomock.helpers import get_value_by_dot
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.results import InsertManyResult

Document = dict[str, Any]


class MemoryCursor:
    """`AsyncCursor` look-alike: chainable sort/skip/limit, `to_list`, async iteration."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def sort(self, key: Any, direction: int | None = None) -> "MemoryCursor":
        self._cursor = (
            self._cursor.sort(key) if direction is None else self._cursor.sort(key, direction)
        )
        return self

    def skip(self, count: int) -> "MemoryCursor":
        self._cursor = self._cursor.skip(count)
        return self

    def limit(self, count: int) -> "MemoryCursor":
        self._cursor = self._cursor.limit(count)
        return self

    async def to_list(self, length: int | None = None) -> list[Document]:
        docs = list(self._cursor)
        return docs if length is None else docs[:length]

    def __aiter__(self) -> AsyncIterator[Document]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Document]:
        for doc in self._cursor:
            yield doc


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


def _refuted(doc: Document, checks: list[tuple[str, Any]]) -> bool:
    """True when a clause certainly fails. Arrays and sub-documents are left to mongomock
    (an array matches a scalar it contains); a missing field never equals a scalar."""
    for key, expected in checks:
        actual = doc.get(key, _MISSING)
        if type(actual) in _CONTAINERS:
            continue
        if type(expected) is frozenset:
            if actual not in expected:  # _MISSING is never in a set of strings
                return True
        elif actual is _MISSING or actual != expected:
            return True
    return False


class _FieldIndexes:
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

    def candidate_ids(self, field: str, expected: Any) -> list[Any] | None:
        """Ids that may match `field == expected` (or `$in`); None: no index usable now."""
        if self.suspended:
            return None
        if field not in self._fields:
            by_value: dict[Any, list[Any]] = {}
            always: list[Any] = []
            for doc in self._store.documents:
                self._index(field, by_value, always, doc)
            self._fields[field] = (by_value, always)
        by_value, always = self._fields[field]
        values = expected if type(expected) is frozenset else (expected,)
        ids = [i for value in values for i in by_value.get(value, ())]
        return ids + always if always else ids


def _fast_iteration(collection: Any, indexes: _FieldIndexes) -> Any:
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
            narrowest = min((indexes.candidate_ids(f, v) or [] for f, v in checks), key=len)
            ids = list(dict.fromkeys(narrowest))
        else:
            ids = None
        candidates = list(store.documents) if ids is None else [store[i] for i in ids if i in store]
        return (
            doc for doc in candidates if not _refuted(doc, checks) and filter_applies(filter_, doc)
        )

    return iterate


def _in_scalars(value: Any) -> bool:
    if not (isinstance(value, dict) and set(value) == {"$in"}):
        return False
    values = value["$in"]
    return isinstance(values, list) and all(isinstance(v, _SCALARS) for v in values)


class _UniqueKeys:
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


class MemoryCollection:
    """`AsyncCollection` look-alike over one mongomock collection."""

    def __init__(self, collection: mongomock.Collection) -> None:
        raw: Any = collection
        self._indexes = _FieldIndexes(raw._store)
        raw._iter_documents = _fast_iteration(raw, self._indexes)
        self._c = raw
        self.name = collection.name

    async def find_one(self, *args: Any, **kwargs: Any) -> Document | None:
        return self._c.find_one(*args, **kwargs)

    def find(self, *args: Any, **kwargs: Any) -> MemoryCursor:
        return MemoryCursor(self._c.find(*args, **kwargs))

    async def insert_one(self, document: Document, **kwargs: Any) -> Any:
        if "_id" not in document:
            return self._in_place_write(self._c.insert_one, document, **kwargs)
        self._indexes.added([document])  # before: mongomock's unique check must see it
        try:
            return self._c.insert_one(document, **kwargs)
        except Exception:
            self._indexes.invalidate()
            raise

    def _in_place_write(self, write: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a write that may change documents in place: indexes off, then rebuilt."""
        self._indexes.suspended = True
        try:
            return write(*args, **kwargs)
        finally:
            self._indexes.suspended = False
            self._indexes.invalidate()

    async def insert_many(self, documents: Iterable[Document], *, ordered: bool = True) -> Any:
        """mongomock re-scans the whole collection per document to enforce unique indexes
        (quadratic for a 2000-item import); here a batch is checked in one pass instead,
        with the same outcome: colliding documents are reported as write errors."""
        docs = list(documents)
        return self._in_place_write(self._insert_many, docs, ordered)

    def _insert_many(self, docs: list[Document], ordered: bool) -> Any:
        checker = _UniqueKeys(self._c)
        if not checker.indexes:
            return self._c.insert_many(docs, ordered=ordered)
        errors: list[Document] = []
        inserted = 0
        self._c._ensure_uniques = lambda _doc: None  # checked by `checker` for this batch
        try:
            for position, doc in enumerate(docs):
                try:
                    checker.claim(doc)
                    self._c._insert(doc)
                except DuplicateKeyError as exc:
                    errors.append({"index": position, "code": 11000, "errmsg": str(exc), "op": doc})
                    if ordered:
                        break
                    continue
                inserted += 1
        finally:
            del self._c._ensure_uniques  # back to mongomock's own check
        if errors:
            raise BulkWriteError({"writeErrors": errors, "nInserted": inserted})
        return InsertManyResult([doc["_id"] for doc in docs], acknowledged=True)

    async def replace_one(self, *args: Any, **kwargs: Any) -> Any:
        return self._in_place_write(self._c.replace_one, *args, **kwargs)

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        return self._in_place_write(self._c.update_one, *args, **kwargs)

    async def update_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._in_place_write(self._c.update_many, *args, **kwargs)

    async def delete_one(self, *args: Any, **kwargs: Any) -> Any:
        return self._in_place_write(self._c.delete_one, *args, **kwargs)

    async def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._in_place_write(self._c.delete_many, *args, **kwargs)

    async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Document | None:
        result: Document | None = self._in_place_write(self._c.find_one_and_update, *args, **kwargs)
        return result

    async def count_documents(self, *args: Any, **kwargs: Any) -> int:
        return int(self._c.count_documents(*args, **kwargs))

    async def bulk_write(self, requests: Sequence[Any], *, ordered: bool = True) -> Any:
        """Runs each request in turn: mongomock's own bulk_write rejects PyMongo 4.20's
        request objects (they pass a `sort` argument it does not know)."""
        self._in_place_write(self._bulk_write, requests)

    def _bulk_write(self, requests: Sequence[Any]) -> None:
        for request in requests:
            if isinstance(request, UpdateOne):
                self._c.update_one(request._filter, request._doc, upsert=bool(request._upsert))
            elif isinstance(request, InsertOne):
                self._c.insert_one(request._doc)
            elif isinstance(request, ReplaceOne):
                self._c.replace_one(request._filter, request._doc, upsert=bool(request._upsert))
            elif isinstance(request, DeleteOne):
                self._c.delete_one(request._filter)
            else:
                raise NotImplementedError(f"bulk request {type(request).__name__}")

    async def aggregate(self, pipeline: Sequence[Document], **kwargs: Any) -> MemoryCursor:
        return MemoryCursor(iter(list(self._c.aggregate(list(pipeline), **kwargs))))

    async def create_index(self, keys: Any, **kwargs: Any) -> str:
        return str(self._c.create_index(keys, **kwargs))

    async def index_information(self) -> Document:
        return dict(self._c.index_information())

    async def drop(self) -> None:
        self._in_place_write(self._c.drop)


class MemoryDatabase:
    """`AsyncDatabase` look-alike; collections are created on first use, as in MongoDB."""

    def __init__(self, database: mongomock.Database) -> None:
        self._db = database
        self.name = database.name
        self._collections: dict[str, MemoryCollection] = {}

    def __getitem__(self, name: str) -> MemoryCollection:
        return self.get_collection(name)

    def get_collection(self, name: str) -> MemoryCollection:
        if name not in self._collections:
            self._collections[name] = MemoryCollection(self._db[name])
        return self._collections[name]

    async def command(self, command: str | Document, **_: Any) -> Document:
        name = command if isinstance(command, str) else next(iter(command))
        if name != "ping":
            raise NotImplementedError(f"the in-memory store only answers 'ping', not {name!r}")
        return {"ok": 1.0}

    async def list_collection_names(self) -> list[str]:
        return list(self._db.list_collection_names())


class MemoryClient:
    """`AsyncMongoClient` look-alike holding in-memory databases for this process."""

    def __init__(self) -> None:
        self._client: Any = mongomock.MongoClient()
        self._databases: dict[str, MemoryDatabase] = {}

    def __getitem__(self, name: str) -> MemoryDatabase:
        return self.get_database(name)

    def get_database(self, name: str) -> MemoryDatabase:
        if name not in self._databases:
            self._databases[name] = MemoryDatabase(self._client[name])
        return self._databases[name]

    async def close(self) -> None:
        self._client.close()
