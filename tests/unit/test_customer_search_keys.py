"""The customers' stored search keys: the phone rule, and customers an older release
stored (without the keys) found after a start-up."""

import pytest

from storage.customers import CUSTOMERS, CustomerRepository, phone_key, search_key
from storage.indexes import ensure_indexes
from tests.helpers import indexed_memory_db


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("13812345678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("0086 (138) 1234-5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),  # full-width digits
        ("+1 415 555 0100", "14155550100"),  # other country codes are kept
        ("86-1234", "861234"),  # not a country code before 11 digits: kept
        ("no digits", ""),
    ],
)
def test_phone_key_compares_national_digits(given: str, key: str) -> None:
    assert phone_key(given) == key


def test_search_key_is_nfkc_and_case_folded() -> None:
    assert search_key("  ＡＣＭＥ\u3000Robotics ") == "acme robotics"
    assert search_key("Straße") == search_key("STRASSE")


async def test_customers_stored_without_search_keys_get_them_at_start_up() -> None:
    db = await indexed_memory_db()
    old = {
        "_id": "old-1",
        "tenantId": "t1",
        "_deleted": False,
        "name": "Legacy Trading",
        "_nameKey": "legacy trading",
        "phone": "+86 139 0000 1111",
        "email": "Old@Legacy.example",
        "createdAt": "2025-01-01T00:00:00.000Z",
        "updatedAt": "2025-01-01T00:00:00.000Z",
    }
    await db[CUSTOMERS].insert_one(old)
    await ensure_indexes(db, retention_s=0)  # what every start-up runs
    repo = CustomerRepository(db)
    newest = [("createdAt", -1), ("_id", -1)]
    for conditions in (
        {"_search": {"$regex": "trading"}},
        {"_phoneKey": "13900001111"},
        {"_emailKey": "old@legacy.example"},
    ):
        docs, total = await repo.search("t1", conditions, newest, skip=0, limit=10)
        assert [doc["_id"] for doc in docs] == ["old-1"] and total == 1, conditions
