"""The embedded store's client and databases: `AsyncMongoClient` and `AsyncDatabase`
look-alikes over the collections of `collection.py`, for this process only.

Importing this module loads no mongomock (the wiring names `MemoryClient` in every mode);
the first collection does."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.embedded.collection import MemoryCollection

Document = dict[str, Any]


class MemoryDatabase:
    """`AsyncDatabase` look-alike; collections are created on first use, as in MongoDB."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._collections: dict[str, MemoryCollection] = {}

    def __getitem__(self, name: str) -> "MemoryCollection":
        return self.get_collection(name)

    def get_collection(self, name: str) -> "MemoryCollection":
        if name not in self._collections:
            from storage.embedded.collection import MemoryCollection

            self._collections[name] = MemoryCollection(name)
        return self._collections[name]

    async def command(self, command: str | Document, **_: Any) -> Document:
        name = command if isinstance(command, str) else next(iter(command))
        if name != "ping":
            raise NotImplementedError(f"the in-memory store only answers 'ping', not {name!r}")
        return {"ok": 1.0}

    async def list_collection_names(self) -> list[str]:
        return [collection.name for collection in self.collections()]

    def collections(self) -> list["MemoryCollection"]:
        """Every collection that exists (has had a write or an index since its last drop)."""
        return [collection for collection in self._collections.values() if collection.exists]


class MemoryClient:
    """`AsyncMongoClient` look-alike holding in-memory databases for this process."""

    def __init__(self) -> None:
        self._databases: dict[str, MemoryDatabase] = {}

    def __getitem__(self, name: str) -> MemoryDatabase:
        return self.get_database(name)

    def get_database(self, name: str) -> MemoryDatabase:
        if name not in self._databases:
            self._databases[name] = MemoryDatabase(name)
        return self._databases[name]

    async def close(self) -> None:
        self._databases.clear()
