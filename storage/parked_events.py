"""Parked integration events: inbound events whose customer could not be resolved yet.

One document per event, `_id` = the command key of the event's command
(`schemas.ids.command_key` of the tenant and the command id derived from the event's source
and id), so parking a redelivered event again is a no-op. Internal fields (underscored) say
what releases the document:
- `_identityKey` — the binding key of the identity it waits for
  (`storage.customer_profile.binding_key`);
- `customerId` — the customer id the event named (for `unknown_customer`);
- `_matchKeys` — `phone:<phone>` / `email:<casefolded email>` an `identity.linked`
  event matches customers on (one client string behind a fixed prefix of ours, matched
  within the tenant: never ambiguous);
- `_seq` — arrival order within the tenant (released and listed oldest first).
The event itself is kept as its JSON text (`_raw`), replayed unchanged when released.
"""

import re
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from schemas.ids import command_key, command_keys
from storage.customers import CUSTOMERS
from storage.database import Database, Document
from storage.documents import alive
from storage.keyed import find_owned, of_command

PARKED_EVENTS = "parked_events"
PARKED_EVENT_COUNTERS = "parked_event_counters"

# `_id` is the command key of the event's command: one parked document per event.
INDEXES = [
    IndexModel([("tenantId", ASCENDING), ("_seq", ASCENDING)], name="parked_in_order"),
    IndexModel(
        [("tenantId", ASCENDING), ("_identityKey", ASCENDING), ("_seq", ASCENDING)],
        name="parked_by_identity",
    ),
    IndexModel([("tenantId", ASCENDING), ("customerId", ASCENDING)], name="parked_by_customer"),
    IndexModel([("tenantId", ASCENDING), ("_matchKeys", ASCENDING)], name="parked_by_match_key"),
]


def parked_id(tenant_id: str, command_id: str) -> str:
    """The `_id` of the parked document of an event (its command's key)."""
    return command_key(tenant_id, command_id)


def phone_key(phone: str) -> str:
    return f"phone:{phone.strip()}"


def email_key(email: str) -> str:
    return f"email:{email.strip().casefold()}"


def contact_keys(phone: Any, email: Any) -> list[str]:
    """The match keys of a customer's (or a `match` object's) phone and email."""
    keys = []
    if isinstance(phone, str) and phone.strip():
        keys.append(phone_key(phone))
    if isinstance(email, str) and email.strip():
        keys.append(email_key(email))
    return keys


class ParkedEventRepository:
    def __init__(self, db: Database) -> None:
        self._c = db[PARKED_EVENTS]
        self._counters = db[PARKED_EVENT_COUNTERS]

    async def park(self, doc: Document) -> bool:
        """Store a parked event (`_id`: its command key); False when it is parked already
        (a redelivery)."""
        if await self.find(doc["tenantId"], doc["commandId"]) is not None:
            return False
        counter = await self._counters.find_one_and_update(
            {"_id": doc["tenantId"]},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None
        try:
            key = parked_id(doc["tenantId"], doc["commandId"])
            await self._c.insert_one({**doc, "_id": key, "_seq": int(counter["seq"])})
        except DuplicateKeyError:
            return False  # parked meanwhile by a concurrent delivery
        return True

    async def get(self, doc_id: str) -> Document | None:
        return await self._c.find_one({"_id": doc_id})

    async def find(self, tenant_id: str, command_id: str) -> Document | None:
        """The parked document of this command of this tenant, if any."""
        keys, owns = command_keys(tenant_id, command_id), of_command(tenant_id, command_id)
        return await find_owned(self._c, keys, owns)

    async def any_in(self, tenant_id: str) -> bool:
        """Whether the tenant has parked events at all (spares the work when it has none)."""
        return await self._c.find_one({"tenantId": tenant_id}, {"_id": 1}) is not None

    async def remove(self, doc_id: str) -> None:
        await self._c.delete_one({"_id": doc_id})

    async def remove_event(self, tenant_id: str, command_id: str) -> None:
        """Remove the event of this command of this tenant, wherever it was parked."""
        for key in command_keys(tenant_id, command_id):
            await self._c.delete_one({"_id": key, "tenantId": tenant_id, "commandId": command_id})

    async def note_attempt(
        self, doc_id: str, now: str, *, reason: str | None = None, error: str | None = None
    ) -> None:
        """Record a release attempt that left the event parked (and why, if that changed)."""
        update: dict[str, Any] = {"lastTriedAt": now}
        if reason is not None:
            update["reason"] = reason
        if error is not None:
            update["lastError"] = error[:1000]
        await self._c.update_one({"_id": doc_id}, {"$set": update})

    async def waiting_for_identity(
        self, tenant_id: str, identity_key: str, *, after_seq: int, limit: int
    ) -> list[Document]:
        """Events waiting for this identity's binding, oldest first, after `after_seq`."""
        query = {"tenantId": tenant_id, "_identityKey": identity_key, "_seq": {"$gt": after_seq}}
        return await self._c.find(query).sort("_seq", ASCENDING).limit(limit).to_list()

    async def waiting_for_customers(
        self,
        tenant_id: str,
        *,
        customer_ids: list[str],
        match_keys: list[str],
        after_seq: int,
        limit: int,
    ) -> list[Document]:
        """Events that named one of these customers, or match on one of these keys."""
        either: list[Document] = []
        if customer_ids:
            either.append({"customerId": {"$in": customer_ids}})
        if match_keys:
            either.append({"_matchKeys": {"$in": match_keys}})
        if not either:
            return []
        query = {"tenantId": tenant_id, "_seq": {"$gt": after_seq}, "$or": either}
        return await self._c.find(query).sort("_seq", ASCENDING).limit(limit).to_list()

    async def page(self, tenant_id: str, *, skip: int, limit: int) -> tuple[list[Document], int]:
        """One page of the tenant's parked events, oldest first, and the total."""
        query = {"tenantId": tenant_id}
        cursor = self._c.find(query).sort("_seq", ASCENDING).skip(skip).limit(limit)
        return await cursor.to_list(), await self._c.count_documents(query)


async def customers_matching(
    db: Database, tenant_id: str, *, phone: str | None, email: str | None, limit: int = 2
) -> list[str]:
    """Ids of live customers with this phone (exact) or this email (case-insensitive).

    At most `limit` ids: two are enough to tell a unique match from an ambiguous one.
    """
    either: list[Document] = []
    if phone:
        either.append({"phone": phone.strip()})
    if email:
        either.append({"email": {"$regex": f"^{re.escape(email.strip())}$", "$options": "i"}})
    if not either:
        return []
    cursor = db[CUSTOMERS].find(alive(tenant_id, **{"$or": either}), {"_id": 1}).limit(limit)
    return [doc["_id"] for doc in await cursor.to_list()]


async def contact_keys_of(db: Database, tenant_id: str, customer_ids: list[str]) -> list[str]:
    """The match keys of these customers' phones and emails."""
    if not customer_ids:
        return []
    cursor = db[CUSTOMERS].find(
        alive(tenant_id, _id={"$in": customer_ids}), {"phone": 1, "email": 1}
    )
    keys: set[str] = set()
    for doc in await cursor.to_list():
        keys.update(contact_keys(doc.get("phone"), doc.get("email")))
    return sorted(keys)
