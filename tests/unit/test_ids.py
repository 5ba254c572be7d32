"""Derived ids are the standard name-based UUIDs (version 5) of their parts: of the joined
text, as always, for a tenant id without `:`; of the length-prefixed parts otherwise."""

import hashlib
import uuid

from hypothesis import given
from hypothesis import strategies as st

from schemas.ids import (
    ID_NAMESPACE,
    PARTS_NAMESPACE,
    derived_id,
    derived_ids,
    encode_parts,
    legacy_derived_id,
    legacy_derived_ids,
)

plain_tenants = st.text().filter(lambda text: ":" not in text)
slots = st.lists(st.text(), min_size=1, max_size=2)


@given(plain_tenants, st.text(), slots)
def test_a_tenant_without_a_colon_keeps_the_uuid5_of_the_joined_parts(
    tenant: str, command: str, slot: list[str]
) -> None:
    expected = str(uuid.uuid5(ID_NAMESPACE, ":".join([tenant, command, *slot])))
    assert derived_id(tenant, command, *slot) == expected
    assert legacy_derived_id(tenant, command, *slot) == expected


@given(st.text(), st.text(), st.text(), slots)
def test_a_tenant_with_a_colon_gets_the_uuid5_of_the_length_prefixed_parts(
    before: str, after: str, command: str, slot: list[str]
) -> None:
    tenant = f"{before}:{after}"
    name = encode_parts(tenant, command, ":".join(slot))
    digest = hashlib.sha1(PARTS_NAMESPACE.bytes + name).digest()
    expected = str(uuid.UUID(bytes=digest[:16], version=5))  # uuid5 of bytes (3.12+)
    assert derived_id(tenant, command, *slot) == expected


@given(st.text(), st.text(), st.text())
def test_derived_ids_derive_the_same_ids(tenant: str, command: str, slot: str) -> None:
    derive = derived_ids(tenant, command)
    assert derive(slot) == derived_id(tenant, command, slot)
    assert derive(slot) == derive(slot)  # the common part is not consumed by a use


@given(st.lists(st.text(), max_size=3), st.text())
def test_legacy_derived_ids_derive_the_legacy_ids(parts: list[str], slot: str) -> None:
    assert legacy_derived_ids(*parts)(slot) == legacy_derived_id(*parts, slot)
