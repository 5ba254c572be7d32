"""Commands the facade answered 202 for, before the worker has decided them.

The journal knows a command only once the worker has decided it. Until then (a backlog on
the commands topic, a worker restarting) the status resource a 202 points at would answer
404, as for an id nobody ever sent. So the facade records each command it answers 202 for,
and the status resource answers `pending` for it until the journal has its result. A
record also keeps the request's fingerprint: a second request with the same `X-Request-ID`
and another body that also times out is a 409, not a second 202. Nothing else reads these
records; the retention's TTL index deletes them as old journal entries (`storage.retention`).
"""

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from schemas.ids import command_key, command_keys
from storage.database import Database, Document
from storage.keyed import find_owned, of_command
from storage.pruning import prunable_now

SUBMISSIONS = "command_submissions"

INDEXES: list[IndexModel] = []  # `_id` is the command key; the TTL index: storage.retention


class CommandSubmissions:
    def __init__(self, db: Database) -> None:
        self._c = db[SUBMISSIONS]

    async def record(self, doc: Document) -> Document:
        """Keep `doc` (`tenantId`, `commandId`, `type`, `fingerprint`, `submittedAt`) unless
        the command was recorded before; returns the record kept (the first one)."""
        first = await self.find(doc["tenantId"], doc["commandId"])
        if first is not None:
            return first
        doc = {"_id": command_key(doc["tenantId"], doc["commandId"]), **doc, **prunable_now()}
        try:
            await self._c.insert_one(doc)
        except DuplicateKeyError:
            first = await self.find(doc["tenantId"], doc["commandId"])
            return doc if first is None else first
        return doc

    async def find(self, tenant_id: str, command_id: str) -> Document | None:
        """The record of this command of this tenant (its key, checked: `storage.keyed`)."""
        keys, owns = command_keys(tenant_id, command_id), of_command(tenant_id, command_id)
        return await find_owned(self._c, keys, owns)
