"""Property: however writes and snapshots interleave, the last snapshot loads back as the
store held it. Each snapshot encodes only the documents written since the previous one,
so a write path that did not record what it wrote would leave a stale document behind."""

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.embedded import MemoryClient
from storage.embedded.snapshot import DataDirectory
from tests.property.test_memory_store_writes import EXAMPLES, WRITES, SyncView, run_write

STEPS = st.lists(st.one_of(WRITES, st.just(("save",)), st.just(("drop",))), max_size=16)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_the_last_snapshot_loads_back_as_the_store_was(steps: list[tuple[Any, ...]]) -> None:
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as kept, tempfile.TemporaryDirectory() as other:
        db = MemoryClient()["db"]
        keeper = DataDirectory(db, Path(kept))
        loop.run_until_complete(keeper.open())
        docs = SyncView(db["docs"], loop)
        unique = {"unique": True, "partialFilterExpression": {"flag": False}}
        docs.create_index([("tenantId", 1), ("key", 1)], **unique)
        for step in steps:
            if step[0] == "save":
                loop.run_until_complete(keeper.save())
            elif step[0] == "drop":
                docs.drop()
            else:
                run_write(docs, step)
        loop.run_until_complete(keeper.save())
        keeper.close()

        loaded = MemoryClient()["db"]
        if Path(kept, "store.bson").exists():  # not when the store was empty all along
            Path(kept, "store.bson").rename(Path(other, "store.bson"))
        reader = DataDirectory(loaded, Path(other))
        loop.run_until_complete(reader.open())
        reader.close()
    loop.close()
    expected = {c.name: by_id(c.stored_documents()) for c in db.collections()}
    assert {c.name: by_id(c.stored_documents()) for c in loaded.collections()} == expected
    assert {c.name: c.index_definitions() for c in loaded.collections()} == {
        c.name: c.index_definitions() for c in db.collections()
    }


def by_id(docs: Any) -> dict[Any, Any]:
    return {str(doc["_id"]): doc for doc in docs}
