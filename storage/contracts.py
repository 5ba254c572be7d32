"""API B contracts documents (not built yet)."""

from storage.database import Database


async def ensure_indexes(db: Database) -> None:
    """Indexes for the queries of this module (none yet)."""
