"""The database handle every repository receives, and how to open one."""

import importlib.util
from typing import Any, cast

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]
Database = AsyncDatabase[Document]


class Store:
    """An open client and its database; `close()` releases the client."""

    def __init__(self, client: Any, database: Database, *, embedded: bool) -> None:
        self.client = client
        self.db = database
        self.embedded = embedded

    async def ping(self) -> bool:
        """True when the store answers a ping."""
        try:
            await self.db.command("ping")
        except Exception:
            return False
        return True

    async def close(self) -> None:
        await self.client.close()


def open_store(mongo_url: str | None, db_name: str) -> Store:
    """MongoDB for a URL; the embedded in-memory store for None or `memory`."""
    if mongo_url in (None, "memory"):
        if importlib.util.find_spec("mongomock") is None:
            raise RuntimeError(
                "the embedded store needs mongomock: pip install 'crm-worker[embedded]' "
                "(or set CRM_MONGO_URL to a MongoDB)"
            )
        from storage.embedded import MemoryClient  # dev and tests only: never in production

        memory = MemoryClient()
        return Store(memory, cast(Database, memory[db_name]), embedded=True)
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    return Store(client, client[db_name], embedded=False)
