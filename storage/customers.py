"""Customer documents: look-ups for the rules, pages for the readers, their indexes.

Searching: each customer carries stored-only keys its reads filter on — `_search` (its
name, company and email, normalised by `search_key`), `_phoneKey` (`phone_key`) and
`_emailKey` (`email_key`) — set by every write that changes those fields.
"""

import re
import unicodedata
from typing import Any

from pymongo import ASCENDING, IndexModel

from schemas.text import comparable_name
from storage.database import Database, Document
from storage.documents import (
    TenantDocuments,
    alive,
    newest_first_indexes,
    public,
    range_indexes,
)

CUSTOMERS = "customers"

INDEXES = [
    # one live customer per name key and tenant (a deleted one frees the name)
    IndexModel(
        [("tenantId", ASCENDING), ("_nameKey", ASCENDING)],
        name="customer_name_unique",
        unique=True,
        partialFilterExpression={"_deleted": False},
    ),
    # the list (all, or of one owner), newest first, id as tie-breaker: filter and sort
    # from the index
    # and each filter of the list: one field equal to a value (tags: one of them)
    *newest_first_indexes(
        "customer",
        owner="ownerId",
        tag="tags",
        level="level",
        source="source",
        industry="industry",
        phone="_phoneKey",
        email="_emailKey",
    ),
    # `q`: a regex over `_search`, matched against the index keys (not the documents);
    # `sort=name`; `updatedSince` and `sort=updatedAt`
    IndexModel(
        [("tenantId", ASCENDING), ("_deleted", ASCENDING), ("_search", ASCENDING)],
        name="customer_search",
    ),
    *range_indexes("customer", name="_nameKey", updated="updatedAt"),
    # identity matching of integration events (phone exact, email case-insensitive)
    IndexModel([("tenantId", ASCENDING), ("phone", ASCENDING)], name="phone"),
    IndexModel([("tenantId", ASCENDING), ("email", ASCENDING)], name="email"),
]


def name_key(name: str) -> str:
    """Customer names are unique per tenant after NFKC normalisation, trimming, folding
    spaces and case (`schemas.text.comparable_name`)."""
    return comparable_name(name)


def search_key(text: str) -> str:
    """Text as `q` compares it: as names compare (`schemas.text.comparable_name`: NFKC, so
    full-width letters and digits become plain ones, runs of whitespace folded to one
    space, case folded)."""
    return comparable_name(text)


CHINA_CODES = ("0086", "86")
NATIONAL_DIGITS = 11


def phone_key(phone: str) -> str:
    """A phone as `phone=` compares it: its digits only (`138-1234-5678` and
    `(138) 1234 5678` are `13812345678`), with a China country code (`+86`, `0086`, `86`)
    before an 11-digit number dropped (`+86 138 1234 5678` is `13812345678` too)."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone) if "0" <= ch <= "9")
    for code in CHINA_CODES:
        if digits.startswith(code) and len(digits) == len(code) + NATIONAL_DIGITS:
            return digits[len(code) :]
    return digits


def email_key(email: str) -> str:
    """An email as `email=` compares it: trimmed, case folded."""
    return email.strip().casefold()


def search_fields(doc: Document) -> Document:
    """The stored-only search keys of a customer document (from its name, company, email,
    phone): to be stored with it whenever one of those changes."""
    texts = [doc.get(field) for field in ("name", "company", "email")]
    phone, email = doc.get("phone"), doc.get("email")
    return {
        # one line per field: a normalised `q` holds no newline, so it never spans two
        "_search": "\n".join(search_key(t) for t in texts if isinstance(t, str) and t),
        "_phoneKey": phone_key(phone) if isinstance(phone, str) and phone else None,
        "_emailKey": email_key(email) if isinstance(email, str) and email else None,
    }


def containing(text: str) -> dict[str, str]:
    """A regex condition for "holds `text`" (already normalised), every character of it
    taken literally."""
    return {"$regex": re.escape(text)}


# `sort=` fields of the customer list: what each sorts by
SORT_FIELDS = {"name": "_nameKey", "createdAt": "createdAt", "updatedAt": "updatedAt"}


def customer_view(doc: Document) -> dict[str, Any]:
    """A customer as reads answer it: its public view and `sequence`, the number of its
    last change event this state reflects (0: none yet). A consumer bootstrapping from
    reads skips the events at or below it (README, "Kafka")."""
    return {**public(doc), "sequence": int(doc.get("_seq", 0))}


class CustomerRepository(TenantDocuments):
    collection = CUSTOMERS

    async def with_name_keys(self, tenant_id: str, keys: list[str]) -> list[Document]:
        """Live customers whose name key is one of `keys` (one round trip for any number)."""
        cursor = self._c.find(alive(tenant_id, _nameKey={"$in": keys}), {"_nameKey": 1})
        return await cursor.to_list()

    async def sequences(self, customer_ids: list[str]) -> dict[str, int]:
        """Current change-event sequence number of each customer (0 if none yet)."""
        cursor = self._c.find({"_id": {"$in": customer_ids}}, {"_seq": 1})
        return {doc["_id"]: int(doc.get("_seq", 0)) for doc in await cursor.to_list()}

    async def advance_sequence(self, customer_id: str, last: int) -> None:
        """The customer's counter at least `last` (`$max`: applying it again is harmless)."""
        await self._c.update_one({"_id": customer_id}, {"$max": {"_seq": last}})

    async def count(self, tenant_id: str) -> int:
        return await self._c.count_documents(alive(tenant_id))


async def add_search_keys(db: Database) -> int:
    """Give the customers an older release stored their search keys (at start-up, before
    the consumers start); how many were updated."""
    updated = 0
    async for doc in db[CUSTOMERS].find({"_search": {"$exists": False}}):
        await db[CUSTOMERS].update_one({"_id": doc["_id"]}, {"$set": search_fields(doc)})
        updated += 1
    return updated
