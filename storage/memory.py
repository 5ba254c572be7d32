"""mongomock behind the slice of PyMongo's async API that storage uses.

mongomock interprets the same filters, update operators, aggregation pipelines and
unique (also partial) indexes as MongoDB, so storage keeps a single implementation.
Calls run inline on the event loop: mongomock is in-memory and not thread-safe, and
running inline also makes each call atomic with respect to other coroutines.
"""

from collections.abc import AsyncIterator, Iterable, Mapping, MutableMapping, Sequence
from typing import Any

import mongomock
from bson import ObjectId
from mongomock.helpers import gen_index_name
from mongomock.results import InsertOneResult
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import DuplicateKeyError, OperationFailure
from pymongo.results import UpdateResult

from storage.memory_fast_paths import (
    find_by_id,
    insert_document,
    plain_projection,
    plain_update,
    projected,
)
from storage.memory_speedups import FieldIndexes, fast_iteration, matches_nothing, sorted_page

Document = dict[str, Any]
INDEX_OPTIONS_CONFLICT = 85  # MongoDB's code for an index that exists with another definition


def _normal_key(key: Iterable[Any]) -> list[tuple[str, Any]]:
    """Key patterns compared as any driver writes them (1 and 1.0 are one direction)."""
    return [(f, int(d) if isinstance(d, int | float) else d) for f, d in key]


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
        plain, kept = plain_projection(self._args)
        if plain and not self._kwargs and self._limit >= 0:
            page = self._page(list(self._collection._iter_documents(self._filter)))
            if page is not None:
                return [projected(doc, kept) for doc in page]
        cursor = self._collection.find(self._filter, *self._args, **self._kwargs)
        if self._sort:
            cursor = cursor.sort(self._sort)
        return list(cursor.skip(self._skip).limit(self._limit))

    def _page(self, matched: list[Document]) -> list[Document] | None:
        """The requested slice of the matched (stored) documents, None if mongomock must
        sort them."""
        if self._sort:
            return sorted_page(matched, self._sort, self._skip, self._limit)
        end = self._skip + self._limit if self._limit else None
        return matched[self._skip : end]

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
        # mongomock's own insert and unique check, replaced by the two methods below,
        # which fall back to them
        self._mongomock_insert = raw._insert
        self._mongomock_unique_check = raw._ensure_uniques
        raw._insert = self._store_document
        raw._ensure_uniques = self._check_changed_document
        self._c = raw
        self.name = collection.name
        # Ids of the documents written since `take_written` last ran (None: not tracked
        # yet, or the collection was dropped): what a snapshot must encode again.
        self._written: dict[Any, None] | None = None

    def _store_document(self, data: Any, session: Any = None, ordered: bool = True) -> Any:
        """mongomock's `_insert` with the indexes kept current: a document takes the
        direct path of `insert_document`, which indexes it as it is stored; otherwise it
        is given its `_id` first (as mongomock and PyMongo would) and recorded as touched."""
        if not isinstance(data, MutableMapping):
            return self._mongomock_insert(data, session, ordered)  # a batch: one by one
        if "_id" not in data:
            data["_id"] = ObjectId()
        if self._written is not None:
            self._written[data["_id"]] = None
        if session is None:
            inserted = insert_document(self._c._store, data, self._check_unique_keys, self._indexes)
            if inserted is not None:
                return inserted
        self._indexes.touch(data["_id"])
        return self._mongomock_insert(data, session, ordered)

    def _check_changed_document(self, doc: Document) -> None:
        """mongomock checks unique indexes right after it stores or changes a document
        (this replaces that check): re-index that document first, then check it."""
        self._indexes.resync(doc["_id"])
        self._check_unique_keys(doc)

    def _check_unique_keys(self, doc: Document) -> None:
        """DuplicateKeyError if the (indexed) document takes a taken unique key; mongomock
        decides where a multikey entry is involved."""
        collides = self._indexes.unique_collision(doc)
        if collides is None:
            self._mongomock_unique_check(doc)
        elif collides:
            raise DuplicateKeyError("E11000 Duplicate Key Error", 11000)

    async def find_one(self, filter_: Any = None, *args: Any, **kwargs: Any) -> Document | None:
        if kwargs:
            return self._c.find_one(filter_, *args, **kwargs)
        if not args:
            direct, doc = find_by_id(self._c._store, filter_)
            if direct:
                return doc
        if filter_ is not None and not isinstance(filter_, Mapping):
            filter_ = {"_id": filter_}  # as PyMongo: a bare value is an `_id`
        # The worker asks after every create whether the tenant has parked events: most
        # often of an empty collection (a projection mongomock would refuse still goes on).
        if plain_projection(args)[0] and matches_nothing(self._c._store, filter_):
            return None
        found = await MemoryCursor(self._c, filter_, args, {}).limit(1).to_list()
        return found[0] if found else None

    def find(self, filter_: Any = None, *args: Any, **kwargs: Any) -> MemoryCursor:
        return MemoryCursor(self._c, filter_, args, kwargs)

    async def insert_one(self, document: Document, **kwargs: Any) -> Any:
        if not kwargs and type(document) is dict:
            # mongomock's insert_one, minus its mapping check (the type check above):
            # every command inserts its journal entry and most a document besides
            return InsertOneResult(self._insert(self._store_document, document), True)
        return self._insert(self._c.insert_one, document, **kwargs)

    def _insert(self, write: Any, *args: Any, **kwargs: Any) -> Any:
        """An insert indexes each document as it is stored (see `_store_document`)."""
        self._indexes.begin_write()  # for documents that take mongomock's own path
        try:
            return write(*args, **kwargs)
        finally:
            self._end_write()

    def _write(self, write: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a mongomock write that may change documents in place; the field indexes
        follow every document it visited."""
        self._indexes.begin_write(visits=True)
        try:
            return write(*args, **kwargs)
        finally:
            self._end_write()

    def _end_write(self) -> None:
        """The write's documents are re-indexed, and recorded as written: every document
        a write may have changed is one it visited (or inserted, see `_store_document`)."""
        touched = self._indexes.touched
        self._indexes.end_write()
        if touched and self._written is not None:
            self._written.update(touched)

    async def insert_many(self, documents: Iterable[Document], *, ordered: bool = True) -> Any:
        """mongomock's own batch insert: each document's unique check is one indexed
        look-up here, so a batch costs in proportion to its size, not the collection's."""
        return self._insert(self._c.insert_many, list(documents), ordered=ordered)

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

    async def distinct(self, key: str, filter_: Any = None) -> list[Any]:
        return list(self._c.distinct(key, filter_))

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
        """As MongoDB: the same definition again is a no-op; another definition under a
        taken name, or the same keys under another name, is refused (code 85), which
        `storage.indexes` answers by rebuilding the index (a store loaded from a snapshot
        of an older release holds that release's indexes)."""
        key = [(keys, 1)] if isinstance(keys, str) else [tuple(k) for k in keys]
        wanted = {"key": _normal_key(key), **kwargs}
        wanted.setdefault("name", gen_index_name(key))
        for name, info in self._c.index_information().items():
            existing = {"name": name, **info, "key": _normal_key(info["key"])}
            existing.pop("v", None)
            if existing == wanted:
                return name
            if name == wanted["name"] or existing["key"] == wanted["key"]:
                raise OperationFailure(
                    f"index {name!r} exists with another definition: {existing}",
                    code=INDEX_OPTIONS_CONFLICT,
                )
        return str(self._c.create_index(key, **kwargs))

    async def index_information(self) -> Document:
        return dict(self._c.index_information())

    async def drop_index(self, name: str) -> None:
        self._c.drop_index(name)
        self._indexes.invalidate()

    async def drop(self) -> None:
        self._c.drop()
        self._indexes.invalidate()
        self._written = None

    # -- what a snapshot reads (storage/memory_snapshot.py); synchronous, so one pass over
    # the store sees it as of one moment ------------------------------------------------

    def take_written(self) -> list[Any] | None:
        """Ids of the documents written (inserted, changed or deleted) since the last call;
        None on the first call and after a drop: then every stored document counts."""
        written, self._written = self._written, {}
        return None if written is None else list(written)

    def stored_document(self, doc_id: Any) -> Document | None:
        """The stored document itself (not a copy: read it, never change it), or None."""
        found: Document | None = self._c._store._documents.get(doc_id)
        return found

    def stored_documents(self) -> Iterable[Document]:
        """Every stored document itself, in the store's order (read them, never change)."""
        return list(self._c._store.documents)

    def index_definitions(self) -> list[Document]:
        """Each index but `_id_`: `name`, `key` (a list of [field, direction]) and its
        options, as `create_index` takes them back."""
        definitions = []
        for name, info in self._c.index_information().items():
            if name == "_id_":
                continue
            options = {k: v for k, v in info.items() if k not in ("key", "v")}
            definitions.append({"name": name, "key": [list(k) for k in info["key"]], **options})
        return definitions


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

    def collections(self) -> list[MemoryCollection]:
        """Every collection that exists (has documents or indexes), synchronously."""
        return [self.get_collection(name) for name in self._db.list_collection_names()]


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
