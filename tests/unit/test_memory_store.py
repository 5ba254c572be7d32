"""The in-memory adapter answers exactly as mongomock's own filter engine does.

Its fast path (direct `_id` look-ups, plain-equality pre-checks, one-pass unique checks for
batch inserts) must never change which documents match.
"""

import mongomock
import pytest
from bson.errors import InvalidDocument
from mongomock.filtering import filter_applies
from pymongo.errors import BulkWriteError, DuplicateKeyError

from storage.embedded import MemoryClient

DOCS = [
    {"_id": "a", "tenantId": "t1", "tags": ["x", "y"], "n": 1, "_deleted": False, "name": "A"},
    {"_id": "b", "tenantId": "t1", "tags": "x", "n": 1.0, "_deleted": True, "name": "B"},
    {"_id": "c", "tenantId": "t2", "n": True, "name": None},
    {"_id": "d", "tenantId": "t1", "sub": {"k": 1}, "_deleted": False},
    {"_id": 5, "tenantId": "t1", "n": 2},
]
FILTERS = [
    {},
    {"_id": "a"},
    {"_id": 5},
    {"_id": "zz"},
    {"_id": {"$in": ["a", "c", "zz"]}},
    {"_id": {"$in": ["a", 5]}},
    {"tenantId": "t1"},
    {"tenantId": "t1", "_deleted": False},
    {"tags": "x"},
    {"tags": "y"},
    {"n": 1},
    {"n": True},
    {"name": None},
    {"name": {"$in": ["A", "B"]}},
    {"missing": {"$in": ["A"]}},
    {"sub": {"k": 1}},
    {"sub.k": 1},
    {"$and": [{"tenantId": "t1"}, {"name": "A"}]},
    {"$or": [{"name": "A"}, {"n": 2}]},
    {"tenantId": "t1", "n": {"$gte": 1}},
]


@pytest.fixture
async def collection():  # type: ignore[no-untyped-def]
    coll = MemoryClient()["db"]["docs"]
    await coll.insert_many([dict(doc) for doc in DOCS])
    return coll


@pytest.mark.parametrize("filter_", FILTERS, ids=[str(f) for f in FILTERS])
async def test_find_matches_mongomock_filter_engine(collection, filter_) -> None:  # type: ignore[no-untyped-def]
    expected = sorted(str(doc["_id"]) for doc in DOCS if filter_applies(filter_, doc))
    found = sorted(str(doc["_id"]) for doc in await collection.find(filter_).to_list())
    assert found == expected
    assert await collection.count_documents(filter_) == len(expected)


async def test_update_and_delete_use_the_same_matching(collection) -> None:  # type: ignore[no-untyped-def]
    await collection.update_many({"tags": "x"}, {"$set": {"hit": True}})
    assert sorted(d["_id"] for d in await collection.find({"hit": True}).to_list()) == ["a", "b"]
    await collection.delete_many({"tenantId": "t1", "_deleted": False})
    assert sorted(str(d["_id"]) for d in await collection.find({}).to_list()) == ["5", "b", "c"]


async def test_batch_insert_enforces_partial_unique_index_like_mongomock() -> None:
    coll = MemoryClient()["db"]["people"]
    await coll.create_index(
        [("tenantId", 1), ("key", 1)], unique=True, partialFilterExpression={"_deleted": False}
    )
    await coll.insert_one({"_id": "old", "tenantId": "t", "key": "k", "_deleted": False})
    await coll.insert_one({"_id": "gone", "tenantId": "t", "key": "g", "_deleted": True})
    batch = [
        {"_id": "1", "tenantId": "t", "key": "k", "_deleted": False},  # taken
        {"_id": "2", "tenantId": "t", "key": "g", "_deleted": False},  # free: only a deleted one
        {"_id": "3", "tenantId": "t", "key": "n", "_deleted": False},
        {"_id": "4", "tenantId": "t", "key": "n", "_deleted": False},  # collides in the batch
        {"_id": "5", "tenantId": "u", "key": "n", "_deleted": False},  # other tenant
        {"_id": "old", "tenantId": "t", "key": "z", "_deleted": False},  # duplicate _id
    ]
    with pytest.raises(BulkWriteError) as caught:
        await coll.insert_many(batch, ordered=False)
    failed = [error["index"] for error in caught.value.details["writeErrors"]]
    assert failed == [0, 3, 5]
    assert caught.value.details["nInserted"] == 3
    with pytest.raises(DuplicateKeyError):  # the single-document path still checks
        await coll.insert_one({"_id": "6", "tenantId": "t", "key": "n", "_deleted": False})


def test_mongomock_is_the_reference() -> None:
    """Guard: the reference engine itself behaves as these tests assume (arrays match)."""
    assert filter_applies({"tags": "x"}, {"tags": ["x"]})
    assert not filter_applies({"missing": "x"}, {})


async def test_indexed_lookups_follow_updates_deletes_and_renames() -> None:
    coll = MemoryClient()["db"]["people"]
    await coll.create_index([("tenantId", 1), ("key", 1)], unique=True)
    await coll.insert_many([{"_id": str(i), "tenantId": "t", "key": f"k{i}"} for i in range(5)])
    assert [d["_id"] for d in await coll.find({"key": "k1"}).to_list()] == ["1"]  # index built
    await coll.update_one({"_id": "1"}, {"$set": {"key": "renamed"}})
    assert await coll.find({"key": "k1"}).to_list() == []
    assert [d["_id"] for d in await coll.find({"key": "renamed"}).to_list()] == ["1"]
    with pytest.raises(DuplicateKeyError):  # a rename onto a taken key is still refused
        await coll.update_one({"_id": "2"}, {"$set": {"key": "renamed"}})
    with pytest.raises(DuplicateKeyError):
        await coll.replace_one({"_id": "3"}, {"_id": "3", "tenantId": "t", "key": "k4"})
    await coll.delete_one({"key": "k4"})
    assert await coll.count_documents({"key": "k4"}) == 0
    await coll.insert_one({"_id": "9", "tenantId": "t", "key": "k4"})  # the key is free again
    assert [d["_id"] for d in await coll.find({"key": {"$in": ["k4", "k0"]}}).to_list()] in (
        ["0", "9"],
        ["9", "0"],
    )
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": "10", "tenantId": "t", "key": "k4"})
    assert await coll.count_documents({"tenantId": "t"}) == 5


async def test_a_batch_is_indexed_by_each_documents_own_values() -> None:
    """The field indexes take a batch in at the end of the insert, all alike or not."""
    coll = MemoryClient()["db"]["people"]
    await coll.insert_one({"_id": "seed", "tenantId": "t", "flag": 1, "key": "s"})
    for query in ({"tenantId": "t"}, {"flag": 1}, {"key": "s"}):
        await coll.count_documents(query)  # the three field indexes exist before the batch
    same = [{"_id": f"s{i}", "tenantId": "t", "flag": True, "key": f"k{i}"} for i in range(3)]
    mixed = [
        {"_id": "m0", "tenantId": "t", "flag": 0, "key": "k0"},
        {"_id": "m1", "tenantId": "u", "flag": 1},
        {"_id": "m2", "tenantId": "t", "flag": ["x"], "key": None},
    ]
    await coll.insert_many(same)
    await coll.insert_many(mixed)
    reference = mongomock.MongoClient()["db"]["people"]
    reference.insert_many([{"_id": "seed", "tenantId": "t", "flag": 1, "key": "s"}, *same, *mixed])
    queries = [
        {"tenantId": "t"},
        {"tenantId": "u"},
        {"flag": 1},  # 1 == True here, as in mongomock
        {"flag": 0},
        {"flag": "x"},
        {"key": "k0"},
        {"key": None},
        {"tenantId": "t", "flag": True},
    ]
    for query in queries:
        found = sorted(d["_id"] for d in await coll.find(query).to_list())
        assert found == sorted(d["_id"] for d in reference.find(query)), query
    # deleted documents are gone from every answer
    await coll.delete_many({})
    for query in queries:
        assert await coll.find(query).to_list() == [], query


async def test_array_values_stay_candidates_for_equality() -> None:
    coll = MemoryClient()["db"]["tagged"]
    await coll.insert_one({"_id": "a", "tags": ["x", "y"]})
    assert await coll.count_documents({"tags": "y"}) == 1  # builds the index on tags
    await coll.insert_one({"_id": "b", "tags": ["y"]})
    await coll.insert_one({"_id": "c", "tags": "y"})
    assert sorted(d["_id"] for d in await coll.find({"tags": "y"}).to_list()) == ["a", "b", "c"]


SORT_DOCS = [
    {"_id": "a", "t": "x", "at": "2026-01-02", "n": 3},
    {"_id": "b", "t": "x", "at": "2026-01-01", "n": 1.5},
    {"_id": "c", "t": "x", "at": None, "n": "text"},
    {"_id": "d", "t": "x", "n": 2},
    {"_id": "e", "t": "x", "at": "2026-01-02", "n": None},
    {"_id": "f", "t": "y", "at": "2026-01-03", "n": 0},
]
SORTS = [
    [("at", -1), ("_id", -1)],
    [("at", 1), ("_id", 1)],
    [("n", 1)],
    [("n", -1), ("_id", 1)],
    [("at", 1), ("n", -1)],
]


@pytest.mark.parametrize("sort", SORTS, ids=[str(s) for s in SORTS])
@pytest.mark.parametrize(("skip", "limit"), [(0, 0), (1, 2), (4, 10)])
async def test_sorted_pages_match_mongomock(sort, skip, limit) -> None:  # type: ignore[no-untyped-def]
    coll = MemoryClient()["db"]["sorting"]
    await coll.insert_many([dict(d) for d in SORT_DOCS])
    reference = mongomock.MongoClient()["db"]["sorting"]
    reference.insert_many([dict(d) for d in SORT_DOCS])
    expected = list(reference.find({"t": "x"}).sort(sort).skip(skip).limit(limit))
    found = await coll.find({"t": "x"}).sort(sort).skip(skip).limit(limit).to_list()
    assert [d["_id"] for d in found] == [d["_id"] for d in expected]


STRING_DOCS = [  # the list-page shape: string times with ties, string ids
    {"_id": f"id{n % 7}{n}", "t": "x", "at": f"2026-01-0{n % 3}", "name": f"n{n % 4}"}
    for n in range(30)
]
STRING_SORTS = [[("at", -1), ("_id", -1)], [("at", 1), ("_id", 1)], [("at", -1)], [("name", 1)]]


@pytest.mark.parametrize("sort", STRING_SORTS, ids=[str(s) for s in STRING_SORTS])
@pytest.mark.parametrize(("skip", "limit"), [(0, 0), (0, 5), (3, 4), (25, 10), (0, 30)])
async def test_string_key_pages_match_mongomock(sort, skip, limit) -> None:  # type: ignore[no-untyped-def]
    """Pages picked from a heap (not the whole result sorted), ties in the same order."""
    coll = MemoryClient()["db"]["pages"]
    await coll.insert_many([dict(d) for d in STRING_DOCS])
    reference = mongomock.MongoClient()["db"]["pages"]
    reference.insert_many([dict(d) for d in STRING_DOCS])
    expected = list(reference.find({"t": "x"}).sort(sort).skip(skip).limit(limit))
    found = await coll.find({"t": "x"}).sort(sort).skip(skip).limit(limit).to_list()
    assert [d["_id"] for d in found] == [d["_id"] for d in expected]


async def test_sort_falls_back_to_mongomock_for_other_types_and_projections() -> None:
    coll = MemoryClient()["db"]["mixed"]
    await coll.insert_many([{"_id": 1, "v": [3]}, {"_id": 2, "v": True}, {"_id": 3, "v": "s"}])
    reference = mongomock.MongoClient()["db"]["mixed"]
    reference.insert_many([{"_id": 1, "v": [3]}, {"_id": 2, "v": True}, {"_id": 3, "v": "s"}])
    expected = [d["_id"] for d in reference.find({}).sort("v", 1)]
    assert [d["_id"] for d in await coll.find({}).sort("v", 1).to_list()] == expected
    projected = await coll.find({}, {"v": 1}).sort("_id", -1).limit(1).to_list()
    assert projected == [{"_id": 3, "v": "s"}]


async def test_returned_documents_are_copies() -> None:
    coll = MemoryClient()["db"]["copies"]
    await coll.insert_one({"_id": "a", "tags": ["x"]})
    [doc] = await coll.find({}).sort("_id", 1).to_list()
    doc["tags"].append("mutated")
    assert (await coll.find_one({"_id": "a"}))["tags"] == ["x"]


PROJECTIONS = [
    None,
    {"name": 1},
    {"name": 1, "_id": 0},
    {"_id": 1},
    {"_id": 0},
    {"name": 0},
    {"tags": True, "n": 1},
    {"sub.k": 1},
]


@pytest.mark.parametrize("projection", PROJECTIONS, ids=[str(p) for p in PROJECTIONS])
@pytest.mark.parametrize("filter_", FILTERS[:8], ids=[str(f) for f in FILTERS[:8]])
async def test_projections_match_mongomock(collection, filter_, projection) -> None:  # type: ignore[no-untyped-def]
    reference = mongomock.MongoClient()["db"]["docs"]
    reference.insert_many([dict(doc) for doc in DOCS])
    expected = list(reference.find(filter_, projection))
    found = await collection.find(filter_, projection).to_list()
    canonical = lambda doc: repr(sorted(doc.items(), key=repr))  # noqa: E731  (field order aside)
    assert sorted(found, key=canonical) == sorted(expected, key=canonical)
    first = await collection.find_one(filter_, projection)
    assert (first is None) == (not expected)
    if first is not None:
        assert first in expected


@pytest.mark.parametrize(
    "document",
    [{"_id": "a", "bad\0key": 1}, {"_id": "b", "sub": {"k\0": 1}}, {"_id": "c", "l": [{"\0": 1}]}],
)
async def test_field_names_with_the_null_character_are_refused_as_by_mongomock(document) -> None:  # type: ignore[no-untyped-def]
    reference = mongomock.MongoClient()["db"]["docs"]
    with pytest.raises(InvalidDocument):
        reference.insert_one(dict(document))
    coll = MemoryClient()["db"]["docs"]
    with pytest.raises(InvalidDocument):
        await coll.insert_one(dict(document))
    assert await coll.count_documents({}) == 0


@pytest.mark.parametrize("filter_", FILTERS, ids=[str(f) for f in FILTERS])
async def test_an_empty_collection_matches_nothing(filter_) -> None:  # type: ignore[no-untyped-def]
    coll = MemoryClient()["db"]["docs"]
    assert await coll.find(filter_).to_list() == []
    assert await coll.find_one(filter_, {"_id": 1}) is None


INVALID_FILTERS = [{"n": {"$nosuch": 1}}, {"$foo": 1}, {"n": {"$in": 5}}]


@pytest.mark.parametrize("invalid", INVALID_FILTERS, ids=[str(f) for f in INVALID_FILTERS])
async def test_an_empty_collection_still_refuses_an_invalid_filter_like_mongomock(invalid) -> None:  # type: ignore[no-untyped-def]
    reference = mongomock.MongoClient()["db"]["docs"]
    with pytest.raises(mongomock.OperationFailure):
        list(reference.find(invalid))
    coll = MemoryClient()["db"]["docs"]
    with pytest.raises(mongomock.OperationFailure):
        await coll.find(invalid).to_list()
    with pytest.raises(mongomock.OperationFailure):
        await coll.find_one(invalid, {"_id": 1})


SUB_DOCUMENT_SETS = [
    {"$set": {"result.completedAt": "t1"}},  # the journal's finish: the direct path
    {"$set": {"result.status": "done", "state": "applied"}},
    {"$set": {"result.0": 1}},
    {"$set": {"note.at": 1}},  # not a sub-document: mongomock's
    {"$set": {"missing.at": 1}},  # no such field: mongomock's (it creates the sub-document)
    {"$set": {"result.a": 1, "result.b": 2}},  # the same parent twice: mongomock's
    {"$set": {"result.a": 1, "result": {"x": 1}}},  # a conflict: mongomock refuses
    {"$unset": {"result.status": ""}},
]


@pytest.mark.parametrize("update", SUB_DOCUMENT_SETS, ids=[str(u) for u in SUB_DOCUMENT_SETS])
async def test_setting_a_field_of_a_sub_document_is_as_in_mongomock(update) -> None:  # type: ignore[no-untyped-def]
    doc = {"_id": "j", "state": "decided", "note": "n", "result": {"status": "ok", "at": None}}
    reference = mongomock.MongoClient()["db"]["docs"]
    reference.insert_one(dict(doc, result=dict(doc["result"])))
    coll = MemoryClient()["db"]["docs"]
    await coll.insert_one(dict(doc, result=dict(doc["result"])))
    try:
        expected: object = reference.update_one({"_id": "j"}, update).modified_count
    except mongomock.WriteError as exc:
        expected = type(exc)
    try:
        got: object = (await coll.update_one({"_id": "j"}, update)).modified_count
    except mongomock.WriteError as exc:
        got = type(exc)
    assert got == expected
    assert await coll.find_one({"_id": "j"}) == reference.find_one({"_id": "j"})
