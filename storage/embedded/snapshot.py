"""The in-memory store kept on disk: a snapshot file in a data directory (`crm run`).

A snapshot is every collection's documents and index definitions as of one moment, in one
file of BSON documents (the format MongoDB and `mongodump` use, so every type the store
holds comes back as it was): a header naming each collection with its indexes and
document count, then the documents, collection after collection. It is written to a
temporary file, flushed to disk and renamed over the previous one, so the file is always
a whole snapshot; a crash loses what changed since the last one.

Taking the snapshot reads the store on the event loop, in one synchronous pass (the store
is not thread-safe, and a pass no coroutine interrupts is a consistent moment: a command
is never half in it). That pass encodes only the documents written since the previous
snapshot (the store records their ids) and keeps each document's encoding; the file is
then written by a thread. The lock file keeps a second process off the directory.
"""

import asyncio
import contextlib
import itertools
import logging
import os
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import bson
from bson.errors import InvalidBSON

from schemas.base import iso_now
from storage.leases import LEASES

if TYPE_CHECKING:  # the classes themselves load mongomock: only the names are needed here
    from storage.embedded.client import MemoryDatabase
    from storage.embedded.collection import MemoryCollection

SNAPSHOT = "store.bson"
LOCK = "lock"
FORMAT = "crm-memory-store"
VERSION = 1
# Who holds a lease is a property of running processes, not data: a lease kept over a
# restart would only hold the new process's relay off until it expired.
NOT_KEPT = frozenset({LEASES})

log = logging.getLogger("crm.storage")


class DataDirectoryError(RuntimeError):
    """The data directory cannot be used: in use by another process, or not a snapshot."""


class _Encoded:
    """One collection's documents as BSON, by `_id`, in the store's order."""

    def __init__(self) -> None:
        self.docs: dict[Any, bytes] = {}

    def refresh(self, collection: "MemoryCollection") -> bool:
        """Encode what was written since the last refresh; True when anything was."""
        written = collection.take_written()
        if written is None:
            self.docs = {doc["_id"]: bson.encode(doc) for doc in collection.stored_documents()}
            return True
        for doc_id in written:
            doc = collection.stored_document(doc_id)
            if doc is None:
                self.docs.pop(doc_id, None)
            else:
                self.docs[doc_id] = bson.encode(doc)
        return bool(written)


class DataDirectory:
    """Loads the store from its directory at start-up and writes snapshots into it."""

    def __init__(self, db: "MemoryDatabase", directory: Path) -> None:
        self._db = db
        self.directory = directory
        self.path = directory / SNAPSHOT
        self._lock: IO[bytes] | None = None
        self._encoded: dict[str, _Encoded] = {}
        self._indexes: dict[str, list[dict[str, Any]]] = {}  # as last written
        self._saving = asyncio.Lock()
        self._stop = asyncio.Event()
        self._unsaved = False  # a snapshot was taken but not written (the write failed)

    @property
    def opened(self) -> bool:
        return self._lock is not None

    async def open(self) -> int:
        """Take the directory (created if missing) and load its snapshot, if any, into the
        (empty) store; returns the number of documents loaded."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = _locked(self.directory / LOCK)
        try:
            loaded = await self._load() if self.path.exists() else 0
        except BaseException:
            self.close()
            raise
        self._capture()  # what was loaded is what the file holds: nothing to write yet
        return loaded

    async def _load(self) -> int:
        started = time.perf_counter()
        with self.path.open("rb") as file:
            header, documents = _read(file, self.path)
        total = 0
        for entry in header["collections"]:
            collection = self._db[entry["name"]]
            collection.exists = True  # also when it holds nothing
            for index in entry["indexes"]:
                options = {k: v for k, v in index.items() if k != "key"}
                await collection.create_index([tuple(k) for k in index["key"]], **options)
            docs = documents[entry["name"]]
            if docs:
                await collection.insert_many(docs)
            total += len(docs)
        log.info(
            "loaded %d documents in %d collections from %s (written %s) in %.0f ms",
            total,
            len(header["collections"]),
            self.path,
            header["savedAt"],
            (time.perf_counter() - started) * 1000,
        )
        return total

    def _capture(self, *, changed: bool = False) -> list[bytes] | None:
        """The snapshot as of now, encoded (None when nothing changed since the last one,
        unless `changed`). Synchronous: no other coroutine runs while it reads the store."""
        collections = []
        for collection in self._db.collections():
            if collection.name in NOT_KEPT:
                continue
            encoded = self._encoded.setdefault(collection.name, _Encoded())
            changed |= encoded.refresh(collection)
            indexes = collection.index_definitions()
            changed |= indexes != self._indexes.get(collection.name)
            self._indexes[collection.name] = indexes
            collections.append((collection.name, indexes, list(encoded.docs.values())))
        gone = set(self._encoded) - {name for name, _, _ in collections}
        for name in gone:  # dropped collections
            del self._encoded[name]
            self._indexes.pop(name, None)
        if not changed and not gone:
            return None
        header = {
            "format": FORMAT,
            "version": VERSION,
            "database": self._db.name,
            "savedAt": iso_now(),
            "collections": [
                {"name": name, "indexes": indexes, "count": len(docs)}
                for name, indexes, docs in collections
            ],
        }
        chunks = [bson.encode(header)]
        for _, _, docs in collections:
            chunks += docs
        return chunks

    async def save(self) -> bool:
        """Write a snapshot if the store changed since the last one; True when written."""
        if self._lock is None:
            return False  # not ours (never opened, or closed)
        async with self._saving:
            started = time.perf_counter()
            chunks = self._capture(changed=self._unsaved)
            captured = time.perf_counter()
            if chunks is None:
                return False
            self._unsaved = True  # until the file holds it: a failed write is retried
            writing = asyncio.ensure_future(asyncio.to_thread(_write_atomically, self.path, chunks))
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                # A thread cannot be stopped: the next save waits until this one is done
                # with the file (the lock is held until then).
                await writing
                raise
            self._unsaved = False
            log.debug(
                "store snapshot written to %s: %d documents, %.1f MiB, %.1f ms on the event "
                "loop, %.0f ms in all",
                self.path,
                len(chunks) - 1,
                sum(map(len, chunks)) / 2**20,
                (captured - started) * 1000,
                (time.perf_counter() - started) * 1000,
            )
            return True

    async def keep_saving(self, interval_s: float) -> None:
        """Save every `interval_s` until `stop_saving()` (a save under way finishes first);
        a failed save is logged and retried at the next interval (the file keeps the
        previous snapshot)."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval_s)
                return
            try:
                await self.save()
            except Exception:
                log.exception("could not write the store snapshot to %s", self.path)

    def stop_saving(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Give the directory up (the lock); nothing is saved after this."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _locked(path: Path) -> IO[bytes]:
    """The lock file, held (exclusively) until closed; refused while another process has it."""
    import fcntl  # POSIX only, as the embedded mode (its broker runs on Linux)

    file = path.open("a+b")
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        raise DataDirectoryError(
            f"the data directory {path.parent} is in use by another process "
            "(another `crm run`?); stop it or set CRM_DATA_DIR to another directory"
        ) from None
    return file


def _read(file: IO[bytes], path: Path) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The header and each collection's documents; refuses anything but a whole snapshot."""
    try:
        stream = bson.decode_file_iter(file)
        header = next(stream, None)
        if not header or header.get("format") != FORMAT:
            raise DataDirectoryError(f"{path} is not a store snapshot")
        if header.get("version") != VERSION:
            raise DataDirectoryError(
                f"{path} is a version {header.get('version')} snapshot; this release reads "
                f"version {VERSION}"
            )
        documents = {}
        for entry in header["collections"]:
            documents[entry["name"]] = list(itertools.islice(stream, entry["count"]))
            if len(documents[entry["name"]]) != entry["count"]:
                raise DataDirectoryError(f"{path} is cut short")
        if next(stream, None) is not None:
            raise DataDirectoryError(f"{path} holds more documents than its header counts")
    except (InvalidBSON, KeyError, TypeError) as exc:
        raise DataDirectoryError(f"{path} is damaged: {exc!r}") from None
    return header, documents


def _write_atomically(path: Path, chunks: list[bytes]) -> None:
    """Replace `path` with `chunks` so that it is always either the old or the new file."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.writelines(chunks)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
