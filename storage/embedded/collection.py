"""One collection of the embedded store, behind the slice of PyMongo's async API storage uses.

The collection holds its documents itself (by `_id`, in insertion order) and keeps a hash
map per unique index (`unique.py`), so a read by `_id` and a unique check are look-ups and
an import costs its own size, not the collection's. mongomock's public API decides the
rest, on the documents concerned only: `filter_applies` which documents match; a scratch
mongomock collection holding just those documents applies update operators, replacements
and upserts, projects, sorts, counts distinct values and runs aggregations. The index
definitions live in a document-less mongomock collection, which validates and lists them.
Calls run inline on the event loop (each one atomic with respect to other coroutines).
"""

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import mongomock
from bson import BSON, ObjectId
from bson.errors import InvalidDocument
from mongomock.filtering import filter_applies
from mongomock.helpers import gen_index_name, get_value_by_dot, hashdict
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, WriteError
from pymongo.results import DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

from storage.embedded.matching import (
    clone,
    matcher,
    named_ids,
    plain_projection,
    projected,
    sorted_page,
)
from storage.embedded.unique import UniqueIndex

Document = dict[str, Any]
INDEX_OPTIONS_CONFLICT = 85  # MongoDB's code for an index that exists with another definition


def _ident(doc_id: Any) -> Any:
    """The key a document is held under (a sub-document id made hashable, as mongomock)."""
    return hashdict(doc_id) if isinstance(doc_id, dict) else doc_id


def _normal_key(key: Iterable[Any]) -> list[tuple[str, Any]]:
    """Key patterns compared as any driver writes them (1 and 1.0 are one direction)."""
    return [(f, int(d) if isinstance(d, int | float) else d) for f, d in key]


def _duplicate() -> DuplicateKeyError:
    return DuplicateKeyError("E11000 Duplicate Key Error", 11000)


class Scratch:
    """A mongomock collection that holds only the documents of the call at hand."""

    def __init__(self) -> None:
        self._db: Any = mongomock.MongoClient()["scratch"]

    def holding(self, docs: Iterable[Document]) -> Any:
        collection = self._db["docs"]
        collection.drop()
        docs = list(docs)
        if docs:
            collection.insert_many(docs)
        return collection


SCRATCH = Scratch()


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

    def __init__(self, collection: "MemoryCollection", filter_: Any, projection: Any) -> None:
        self._collection = collection
        self._filter = filter_
        self._projection = projection
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
        docs = self.results()
        return docs if length is None else docs[:length]

    def results(self) -> list[Document]:
        matched = self._collection.matching(self._filter)
        plain, kept = plain_projection(self._projection)
        if plain and self._limit >= 0:
            if not self._sort:
                end = self._skip + self._limit if self._limit else None
                return [projected(doc, kept) for doc in matched[self._skip : end]]
            page = sorted_page(matched, self._sort, self._skip, self._limit)
            if page is not None:
                return [projected(doc, kept) for doc in page]
        cursor = SCRATCH.holding(matched).find({}, self._projection)
        if self._sort:
            cursor = cursor.sort(self._sort)
        return list(cursor.skip(self._skip).limit(self._limit))

    def __aiter__(self) -> AsyncIterator[Document]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Document]:
        for doc in self.results():
            yield doc


class MemoryCollection:
    """`AsyncCollection` look-alike holding its documents; see the module docstring."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.exists = False  # as in mongomock: created by a write or an index, gone on drop
        self._docs: dict[Any, Document] = {}
        self._catalog: Any = mongomock.MongoClient()["catalog"][name]  # index definitions only
        self._uniques: dict[str, UniqueIndex] = {}
        # Ids of the documents written since `take_written` last ran (None: not tracked
        # yet, or the collection was dropped): what a snapshot must encode again.
        self._written: dict[Any, None] | None = None

    # -- reading -------------------------------------------------------------------

    def matching(self, filter_: Any) -> list[Document]:
        """The stored documents (not copies) that match, in the store's order."""
        # Stored datetimes are naive UTC (as mongomock keeps them); so are the filter's, or
        # comparing an aware one with them fails (`prunableSince < cutoff`).
        filter_ = {} if filter_ is None else clone(filter_)
        ids = named_ids(filter_)
        if ids is None:
            candidates = list(self._docs.values())
        else:
            candidates = [self._docs[i] for i in ids if i in self._docs]
        if not candidates:
            filter_applies(filter_, {})  # mongomock validates the filter even then
            return []
        matches = matcher(filter_)
        return [doc for doc in candidates if matches(doc)]

    def _first(self, filter_: Any, sort: Any = None) -> Document | None:
        matched = self.matching(filter_)
        if sort and len(matched) > 1:
            ids = [doc["_id"] for doc in SCRATCH.holding(matched).find({}, {"_id": 1}).sort(sort)]
            return self._docs[_ident(ids[0])]
        return matched[0] if matched else None

    async def find_one(self, filter_: Any = None, *args: Any, **kwargs: Any) -> Document | None:
        if filter_ is not None and not isinstance(filter_, Mapping):
            filter_ = {"_id": filter_}  # as PyMongo: a bare value is an `_id`
        found = self.find(filter_, *args, **kwargs).limit(1).results()
        return found[0] if found else None

    def find(
        self, filter_: Any = None, projection: Any = None, *, sort: Any = None
    ) -> MemoryCursor:
        cursor = MemoryCursor(self, filter_, projection)
        return cursor.sort(sort) if sort else cursor

    async def count_documents(self, filter_: Any, skip: int = 0, limit: int = 0) -> int:
        matched = len(self.matching(filter_)) - skip
        return max(0, min(matched, limit) if limit else matched)

    async def distinct(self, key: str, filter_: Any = None) -> list[Any]:
        return list(SCRATCH.holding(self.matching(filter_)).distinct(key))

    async def aggregate(self, pipeline: Sequence[Document], **kwargs: Any) -> ListCursor:
        """mongomock runs the pipeline over the documents its leading `$match` selects."""
        first = pipeline[0] if pipeline else {}
        docs = self.matching(first["$match"]) if "$match" in first else list(self._docs.values())
        return ListCursor(list(SCRATCH.holding(docs).aggregate(list(pipeline), **kwargs)))

    # -- writing -------------------------------------------------------------------

    def _store(self, doc: Document) -> None:
        """Hold `doc` (new, or a new version in the old one's place) under its id;
        DuplicateKeyError, with the previous version back, if it takes a unique key
        another document holds."""
        self.exists = True
        ident = _ident(doc["_id"])
        previous = self._docs.get(ident)
        self._put(ident, doc)
        for index in self._uniques.values():
            collides = index.collides(doc["_id"])
            if collides is None:
                collides = self._collides_as_mongomock(index.spec, doc)
            if collides:
                if previous is None:
                    self._remove(ident)
                else:
                    self._put(ident, previous)
                raise _duplicate()

    def _put(self, ident: Any, doc: Document) -> None:
        previous = self._docs.get(ident)
        if previous is not None:
            for index in self._uniques.values():
                index.remove(previous["_id"])
        self._docs[ident] = doc  # a changed document keeps its place, as in mongomock
        for index in self._uniques.values():
            index.add(doc)
        if self._written is not None:
            self._written[ident] = None

    def _remove(self, ident: Any) -> None:
        doc = self._docs.pop(ident, None)
        if doc is None:
            return
        for index in self._uniques.values():
            index.remove(doc["_id"])
        if self._written is not None:
            self._written[ident] = None

    def _collides_as_mongomock(self, spec: Document, doc: Document) -> bool:
        """mongomock's own unique check, for keys with an array or sub-document: a query
        for the document's key (under the partial filter) matches another document."""
        query: Document = {}
        for field, _ in spec["key"]:
            try:
                query[field] = get_value_by_dot(doc, field)
            except KeyError:
                query[field] = None
        if spec.get("sparse") and all(value is None for value in query.values()):
            return False
        if spec.get("partialFilterExpression") is not None:
            query = {"$and": [spec["partialFilterExpression"], query]}
        return len([d for d in self._docs.values() if filter_applies(query, d)]) > 1

    def _insert(self, data: Any) -> Any:
        """mongomock's insert of one document: the same checks (string keys, BSON-encodable,
        which also refuses a null character in a field name, no top-level `$` field,
        unique `_id` and unique indexes) and the same stored copy."""
        if not isinstance(data, dict):
            raise TypeError("document must be an instance of dict")
        dollar = None
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
        if _ident(data["_id"]) in self._docs:
            raise _duplicate()
        self._store(clone(data))
        return data["_id"]

    async def insert_one(self, document: Document, **_: Any) -> InsertOneResult:
        return InsertOneResult(self._insert(document), True)

    async def insert_many(
        self, documents: Iterable[Document], *, ordered: bool = True
    ) -> InsertManyResult:
        """As mongomock: each document in turn; the failures in one BulkWriteError."""
        documents = list(documents)
        if not documents:
            raise TypeError("documents must be a non-empty list")
        ids, errors = [], []
        for index, doc in enumerate(documents):
            try:
                ids.append(self._insert(doc))
            except WriteError as error:
                errors.append({"index": index, "code": error.code, "errmsg": str(error), "op": doc})
                if ordered:
                    break
        if errors:
            raise BulkWriteError({"writeErrors": errors, "nInserted": len(ids)})
        return InsertManyResult(ids, True)

    def _changed(self, doc: Document, write: str, *args: Any, **kwargs: Any) -> bool:
        """Apply mongomock's `write` (update_one, replace_one) to `doc` alone; store the
        result. True when the document changed."""
        scratch: Any = SCRATCH.holding([doc])
        result = getattr(scratch, write)(*args, **kwargs)
        if not result.modified_count:
            return False
        self._store(scratch.find_one({"_id": doc["_id"]}))
        return True

    def _upserted(self, write: str, *args: Any, **kwargs: Any) -> Any:
        """mongomock's upsert of `write` into an empty collection, stored here; its id."""
        scratch = SCRATCH.holding([])
        upserted_id = getattr(scratch, write)(*args, upsert=True, **kwargs).upserted_id
        self._insert(scratch.find_one({"_id": upserted_id}))
        return upserted_id

    def _update(
        self, filter_: Any, update: Any, *, multi: bool, upsert: bool = False, **kwargs: Any
    ) -> UpdateResult:
        matched = self.matching(filter_)
        if not multi:
            matched = matched[:1]
        modified = 0
        for doc in matched:
            modified += self._changed(doc, "update_one", filter_, update, **kwargs)
        if not matched and upsert:
            upserted = self._upserted("update_one", filter_, update, **kwargs)
            return UpdateResult({"n": 1, "nModified": 0, "upserted": upserted}, True)
        return UpdateResult({"n": len(matched), "nModified": modified}, True)

    async def update_one(self, filter_: Any, update: Any, **kwargs: Any) -> UpdateResult:
        return self._update(filter_, update, multi=False, **kwargs)

    async def update_many(self, filter_: Any, update: Any, **kwargs: Any) -> UpdateResult:
        return self._update(filter_, update, multi=True, **kwargs)

    async def replace_one(
        self, filter_: Any, replacement: Document, upsert: bool = False
    ) -> UpdateResult:
        doc = self._first(filter_)
        if doc is not None:
            modified = self._changed(doc, "replace_one", filter_, replacement)
            return UpdateResult({"n": 1, "nModified": int(modified)}, True)
        if upsert:
            upserted = self._upserted("replace_one", filter_, replacement)
            return UpdateResult({"n": 1, "nModified": 0, "upserted": upserted}, True)
        SCRATCH.holding([]).replace_one(filter_, replacement)  # mongomock's validation
        return UpdateResult({"n": 0, "nModified": 0}, True)

    async def find_one_and_update(
        self,
        filter_: Any,
        update: Any,
        projection: Any = None,
        sort: Any = None,
        upsert: bool = False,
        return_document: bool = ReturnDocument.BEFORE,
        **kwargs: Any,
    ) -> Document | None:
        doc = self._first(filter_, sort)
        if doc is None:
            if not upsert:
                SCRATCH.holding([]).update_one(filter_, update, **kwargs)  # validation
                return None
            upserted = self._upserted("update_one", filter_, update, **kwargs)
            after = self._docs[_ident(upserted)] if return_document else None
        else:
            self._changed(doc, "update_one", filter_, update, **kwargs)
            after = self._docs[_ident(doc["_id"])] if return_document else doc
        return None if after is None else self._projected(after, projection)

    def _projected(self, doc: Document, projection: Any) -> Document:
        plain, kept = plain_projection(projection)
        if plain:
            return projected(doc, kept)
        found: Any = SCRATCH.holding([doc]).find_one({}, projection)
        return dict(found)

    async def delete_one(self, filter_: Any) -> DeleteResult:
        doc = self._first(filter_)
        if doc is not None:
            self._remove(_ident(doc["_id"]))
        return DeleteResult({"n": int(doc is not None)}, True)

    async def delete_many(self, filter_: Any) -> DeleteResult:
        matched = self.matching(filter_)
        for doc in matched:
            self._remove(_ident(doc["_id"]))
        return DeleteResult({"n": len(matched)}, True)

    # -- indexes -------------------------------------------------------------------

    def _index_unique(self, name: str, spec: Document) -> UniqueIndex:
        partial = spec.get("partialFilterExpression")
        index = UniqueIndex(spec, None if partial is None else matcher(partial))
        for doc in self._docs.values():
            index.add(doc)
        return index

    async def create_index(self, keys: Any, **kwargs: Any) -> str:
        """As MongoDB: the same definition again is a no-op; another definition under a
        taken name, or the same keys under another name, is refused (code 85), which
        `storage.indexes` answers by rebuilding the index (a store loaded from a snapshot
        of an older release holds that release's indexes)."""
        key = [(keys, 1)] if isinstance(keys, str) else [tuple(k) for k in keys]
        wanted = {"key": _normal_key(key), **kwargs}
        wanted.setdefault("name", gen_index_name(key))
        for name, info in self._catalog.index_information().items():
            existing = {"name": name, **info, "key": _normal_key(info["key"])}
            existing.pop("v", None)
            if existing == wanted:
                return name
            if name == wanted["name"] or existing["key"] == wanted["key"]:
                raise OperationFailure(
                    f"index {name!r} exists with another definition: {existing}",
                    code=INDEX_OPTIONS_CONFLICT,
                )
        name = str(self._catalog.create_index(key, **kwargs))
        self.exists = True
        spec = self._catalog.index_information()[name]
        if spec.get("unique"):
            index = self._index_unique(name, spec)
            duplicates = index.has_duplicates()
            if duplicates is None:
                duplicates = any(self._collides_as_mongomock(spec, d) for d in self._docs.values())
            if duplicates:
                self._catalog.drop_index(name)
                raise _duplicate()
            self._uniques[name] = index
        return name

    async def index_information(self) -> Document:
        return dict(self._catalog.index_information())

    async def drop_index(self, name: str) -> None:
        self._catalog.drop_index(name)
        self._uniques.pop(name, None)

    async def drop(self) -> None:
        self._catalog.drop()
        self._docs.clear()
        self._uniques.clear()
        self.exists = False
        self._written = None

    # -- what a snapshot reads (snapshot.py); synchronous, so one pass over the store
    # sees it as of one moment ----------------------------------------------------------

    def take_written(self) -> list[Any] | None:
        """Ids of the documents written (inserted, changed or deleted) since the last call;
        None on the first call and after a drop: then every stored document counts."""
        written, self._written = self._written, {}
        return None if written is None else list(written)

    def stored_document(self, doc_id: Any) -> Document | None:
        """The stored document itself (not a copy: read it, never change it), or None."""
        return self._docs.get(_ident(doc_id))

    def stored_documents(self) -> Iterable[Document]:
        """Every stored document itself, in the store's order (read them, never change)."""
        return list(self._docs.values())

    def index_definitions(self) -> list[Document]:
        """Each index but `_id_`: `name`, `key` (a list of [field, direction]) and its
        options, as `create_index` takes them back."""
        definitions = []
        for name, info in self._catalog.index_information().items():
            if name == "_id_":
                continue
            options = {k: v for k, v in info.items() if k not in ("key", "v")}
            definitions.append({"name": name, "key": [list(k) for k in info["key"]], **options})
        return definitions
