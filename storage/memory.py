"""mongomock behind the slice of PyMongo's async API that storage uses.

mongomock interprets the same filters, update operators, aggregation pipelines and
unique (also partial) indexes as MongoDB, so storage keeps a single implementation.
Calls run inline on the event loop: mongomock is in-memory and not thread-safe, and
running inline also makes each call atomic with respect to other coroutines.
"""

from collections.abc import AsyncIterator, Iterable, MutableMapping, Sequence
from typing import Any

import mongomock
from bson import ObjectId
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.results import InsertManyResult, UpdateResult

from storage.memory_fast_paths import find_by_id, plain_update
from storage.memory_speedups import FieldIndexes, UniqueKeys, fast_iteration, sorted_page

Document = dict[str, Any]


class ListCursor:
    """An already computed result (aggregation) with the cursor methods storage uses."""

    def __init__(self, docs: list[Document]) -> None:
        self._docs = docs

    async def to_list(self, length: int | None = None) -> list[Document]:
        return self._docs if length is None else self._docs[:length]

    def __aiter__(self) -> AsyncIterator[Document]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Document]:
        for doc in self._docs:
            yield doc


class MemoryCursor:
    """`AsyncCursor` look-alike: chainable sort/skip/limit, `to_list`, async iteration."""

    def __init__(
        self, collection: Any, filter_: Any, args: tuple[Any, ...], kwargs: Document
    ) -> None:
        self._collection = collection
        self._filter = filter_ if filter_ is not None else {}
        self._args = args
        self._kwargs = kwargs
        self._sort: list[tuple[str, int]] = []
        self._skip = 0
        self._limit = 0

    def sort(self, key: Any, direction: int | None = None) -> "MemoryCursor":
        self._sort = [(key, direction or 1)] if isinstance(key, str) else list(key)
        return self

    def skip(self, count: int) -> "MemoryCursor":
        self._skip = count
        return self

    def limit(self, count: int) -> "MemoryCursor":
        self._limit = count
        return self

    async def to_list(self, length: int | None = None) -> list[Document]:
        docs = self._results()
        return docs if length is None else docs[:length]

    def _results(self) -> list[Document]:
        if self._sort and not self._args and not self._kwargs:
            matched = list(self._collection._iter_documents(self._filter))
            page = sorted_page(matched, self._sort, self._skip, self._limit)
            if page is not None:
                return page
        cursor = self._collection.find(self._filter, *self._args, **self._kwargs)
        if self._sort:
            cursor = cursor.sort(self._sort)
        return list(cursor.skip(self._skip).limit(self._limit))

    def __aiter__(self) -> AsyncIterator[Document]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Document]:
        for doc in self._results():
            yield doc


class MemoryCollection:
    """`AsyncCollection` look-alike over one mongomock collection."""

    def __init__(self, collection: mongomock.Collection) -> None:
        raw: Any = collection
        self._indexes = FieldIndexes(raw._store)
        raw._iter_documents = fast_iteration(raw, self._indexes)
        raw._insert = self._touching_insert(raw._insert)
        self._c = raw
        self.name = collection.name

    def _touching_insert(self, insert: Any) -> Any:
        """mongomock's `_insert`, recording each new document's id for the indexes (it
        is given an `_id` first, as mongomock and PyMongo would, so it can be recorded)."""

        def touching_insert(data: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(data, MutableMapping):
                data.setdefault("_id", ObjectId())
                self._indexes.touch(data["_id"])
            return insert(data, *args, **kwargs)

        return touching_insert

    async def find_one(self, filter_: Any = None, *args: Any, **kwargs: Any) -> Document | None:
        if not args and not kwargs:
            direct, doc = find_by_id(self._c._store, filter_)
            if direct:
                return doc
        return self._c.find_one(filter_, *args, **kwargs)

    def find(self, filter_: Any = None, *args: Any, **kwargs: Any) -> MemoryCursor:
        return MemoryCursor(self._c, filter_, args, kwargs)

    async def insert_one(self, document: Document, **kwargs: Any) -> Any:
        return self._write(self._c.insert_one, document, **kwargs)

    def _write(self, write: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a mongomock write; the field indexes follow the documents it touched."""
        self._indexes.begin_write()
        try:
            return write(*args, **kwargs)
        finally:
            self._indexes.end_write()

    async def insert_many(self, documents: Iterable[Document], *, ordered: bool = True) -> Any:
        """mongomock re-scans the whole collection per document to enforce unique indexes
        (quadratic for a 2000-item import); here a batch is checked in one pass instead,
        with the same outcome: colliding documents are reported as write errors."""
        docs = list(documents)
        return self._write(self._insert_many, docs, ordered)

    def _insert_many(self, docs: list[Document], ordered: bool) -> Any:
        checker = UniqueKeys(self._c, docs)
        if not checker.indexes or not checker.plain:
            return self._c.insert_many(docs, ordered=ordered)
        errors: list[Document] = []
        inserted = 0
        self._c._ensure_uniques = lambda _doc: None  # checked by `checker` for this batch
        try:
            for position, doc in enumerate(docs):
                try:
                    keys = checker.free_keys(doc)
                    self._c._insert(doc)
                    checker.take(keys)
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
        return self._write(self._c.replace_one, *args, **kwargs)

    async def update_one(self, filter_: Any, update: Any, **kwargs: Any) -> Any:
        return self._write(self._update, filter_, update, multi=False, **kwargs)

    async def update_many(self, filter_: Any, update: Any, **kwargs: Any) -> Any:
        return self._write(self._update, filter_, update, multi=True, **kwargs)

    def _update(self, filter_: Any, update: Any, *, multi: bool, **kwargs: Any) -> Any:
        if not kwargs.get("array_filters"):
            raw = plain_update(self._c._store, filter_, update, self._indexes.touch, multi=multi)
            if raw is not None:
                return UpdateResult(raw, acknowledged=True)
        write = self._c.update_many if multi else self._c.update_one
        return write(filter_, update, **kwargs)

    async def delete_one(self, *args: Any, **kwargs: Any) -> Any:
        return self._write(self._c.delete_one, *args, **kwargs)

    async def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._write(self._c.delete_many, *args, **kwargs)

    async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Document | None:
        result: Document | None = self._write(self._c.find_one_and_update, *args, **kwargs)
        return result

    async def count_documents(self, *args: Any, **kwargs: Any) -> int:
        return int(self._c.count_documents(*args, **kwargs))

    async def bulk_write(self, requests: Sequence[Any], *, ordered: bool = True) -> Any:
        """Runs each request in turn: mongomock's own bulk_write rejects PyMongo 4.20's
        request objects (they pass a `sort` argument it does not know)."""
        self._write(self._bulk_write, requests)

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

    async def aggregate(self, pipeline: Sequence[Document], **kwargs: Any) -> ListCursor:
        return ListCursor(list(self._c.aggregate(list(pipeline), **kwargs)))

    async def create_index(self, keys: Any, **kwargs: Any) -> str:
        return str(self._c.create_index(keys, **kwargs))

    async def index_information(self) -> Document:
        return dict(self._c.index_information())

    async def drop(self) -> None:
        self._c.drop()
        self._indexes.invalidate()


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
