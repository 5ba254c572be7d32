"""Deleting the oldest documents that match, a bounded batch at a time (retention)."""

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from storage.database import Document


async def delete_oldest(
    collection: AsyncCollection[Document], query: Document, oldest_first: str, limit: int
) -> int:
    """Delete up to `limit` documents matching `query`, oldest by `oldest_first` first;
    how many went. The delete matches `query` again, so a document that stopped matching
    since it was read stays."""
    cursor = collection.find(query, {"_id": 1}).sort(oldest_first, 1).limit(limit)
    doc_ids: list[Any] = [doc["_id"] for doc in await cursor.to_list()]
    if not doc_ids:
        return 0
    result = await collection.delete_many({**query, "_id": {"$in": doc_ids}})
    return int(result.deleted_count)
