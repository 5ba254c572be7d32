"""The field a TTL index deletes documents by (`storage.retention`)."""

from datetime import UTC, datetime

from pymongo import IndexModel

PRUNABLE_SINCE = "prunableSince"  # a date: from then on, the retention counts
TTL_INDEX = "retention_ttl"


def prunable_now() -> dict[str, datetime]:
    """The `$set` that makes a document prunable from now on."""
    return {PRUNABLE_SINCE: datetime.now(UTC)}


def ttl_index(retention_s: float) -> IndexModel:
    """Documents go `retention_s` after their `prunableSince`."""
    return IndexModel(
        [(PRUNABLE_SINCE, 1)], name=TTL_INDEX, expireAfterSeconds=max(1, int(retention_s))
    )
