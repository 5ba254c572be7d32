"""Derived ids are the standard name-based UUIDs (version 5) of their parts."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from schemas.ids import ID_NAMESPACE, derived_id, derived_ids


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_derived_id_is_uuid5_of_the_joined_parts(parts: list[str]) -> None:
    assert derived_id(*parts) == str(uuid.uuid5(ID_NAMESPACE, ":".join(parts)))


@given(st.lists(st.text(), max_size=3), st.text())
def test_derived_ids_derive_the_same_ids(parts: list[str], slot: str) -> None:
    derive = derived_ids(*parts)
    assert derive(slot) == derived_id(*parts, slot)
    assert derive(slot) == derive(slot)  # the common part is not consumed by a use
