"""No two different inputs give the same stored key or derived id (docs/architecture.md, "Keys").

Each builder is tried on pairs of inputs made to collide under joined keys: the parts of one
input joined by the separator and split again at another separator, with separators,
lookalikes (fullwidth colon, ratio sign, fullwidth bar, slash, NUL) and empty strings in
every position; across tenants and within one tenant. The partition key is not here: a
wire contract that orders records and identifies nothing (docs/architecture.md, "Commands").
"""

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from schemas.ids import (
    command_key,
    command_keys,
    created_customer_id,
    derived_id,
    derived_ids,
    event_command_id,
    hashed_key,
)
from storage.customer_profile import binding_key

SEPARATORS = [":", "|", "/", "\x00", "：", "∶", "｜", "~", ",", '"', "\\"]
pieces = st.text(alphabet=st.sampled_from(["a", "b", *SEPARATORS]), max_size=6) | st.text(
    max_size=4
)
# The slots our use cases derive ids in (`CommandContext.new_id`, imports, events).
WORDS = ["customer", "contact", "opportunity", "follow_up", "contract", "payment"]
SLOTS = [*WORDS, "interaction", "service_record", "entity"]
NUMBERED = ["customer", "commitment", "event"]
slots = st.sampled_from(SLOTS) | st.builds(
    "{}:{}".format, st.sampled_from(NUMBERED), st.integers(0, 2001)
)


def is_slot(text: str) -> bool:
    return text in SLOTS or re.fullmatch(rf"({'|'.join(NUMBERED)}):[0-9]+", text) is not None


def resplits(parts: tuple[str, ...], separator: str) -> list[tuple[str, ...]]:
    """Every way to split the parts' joined text into as many parts at a separator."""
    text = separator.join(parts)
    cuts = [i for i, char in enumerate(text) if char == separator]
    found = []
    for chosen in itertools.combinations(cuts, len(parts) - 1):
        bounds = [-1, *chosen, len(text)]
        found.append(tuple(text[a + 1 : b] for a, b in itertools.pairwise(bounds)))
    return found


@given(pieces, pieces, pieces, pieces)
def test_command_keys_differ_for_different_tenants_or_commands(
    tenant: str, command: str, other_tenant: str, other_command: str
) -> None:
    candidates = {
        (tenant, command),
        (other_tenant, other_command),
        (tenant, other_command),  # within one tenant
        *resplits((tenant, command), ":"),
        *resplits((other_tenant, command), ":"),
    }
    keys = {command_key(*pair): pair for pair in candidates}
    assert len(keys) == len(candidates)


@given(pieces, pieces)
def test_a_command_key_is_its_joined_text_or_a_hash_that_no_joined_text_equals(
    tenant: str, command: str
) -> None:
    key = command_key(tenant, command)
    if ":" in tenant:
        assert key == hashed_key("command", tenant, command) and ":" not in key
        assert command_keys(tenant, command) == (key, f"{tenant}:{command}")
    else:
        assert key == f"{tenant}:{command}"  # what older releases stored: unchanged
        assert command_keys(tenant, command) == (key,)


@given(pieces, st.sampled_from(["im", "crm"]) | pieces, pieces, pieces)
def test_binding_keys_differ_for_different_identities(
    tenant: str, system_type: str, system_name: str, external_id: str
) -> None:
    identity = (tenant, system_type, system_name.casefold(), external_id)
    candidates = {identity, *resplits(identity, "|")}
    keys = {binding_key(*parts): parts for parts in candidates}
    assert len(keys) == len(candidates)
    assert ("|" in binding_key(*identity)) != (any("|" in part for part in identity[:3])), (
        "joined text exactly where unambiguous, else a hash without the separator"
    )


@given(pieces, pieces, pieces)
def test_a_system_name_differing_only_in_case_is_the_same_identity(
    tenant: str, name: str, external_id: str
) -> None:
    assert (
        binding_key(tenant, "im", name, external_id)
        == binding_key(tenant, "im", name.upper(), external_id)
        or name.upper().casefold() != name.casefold()
    )


@given(pieces, pieces, pieces, pieces, slots, slots)
def test_derived_ids_differ_for_different_tenants_commands_or_slots(
    tenant: str, command: str, other_tenant: str, other_command: str, slot: str, other: str
) -> None:
    inputs = {
        (tenant, command, slot),
        (tenant, command, other),
        (tenant, other_command, slot),  # within one tenant
        (other_tenant, command, slot),
        (other_tenant, other_command, other),
    }
    for t, c, s in list(inputs):
        inputs |= {split for split in resplits((t, c, s), ":") if is_slot(split[2])}
    ids = {derived_id(*triple): triple for triple in inputs}
    assert len(ids) == len(inputs)


@given(pieces, pieces)
def test_the_ids_of_one_command_are_its_own(tenant: str, command: str) -> None:
    derive = derived_ids(tenant, command)
    assert created_customer_id(tenant, command) == derive("customer")
    assert len({derive(f"customer:{i}") for i in range(50)} | {derive("customer")}) == 51


@given(pieces, pieces, pieces, pieces)
def test_integration_command_ids_differ_for_different_sources_or_event_ids(
    source: str, event_id: str, other_source: str, other_id: str
) -> None:
    candidates = {
        (source, event_id),
        (other_source, other_id),
        (source, other_id),
        *resplits((source, event_id), ":"),
        *resplits((source, event_id), ","),
        *resplits((source, event_id), '"'),
    }
    ids = {event_command_id(*pair): pair for pair in candidates}
    assert len(ids) == len(candidates)
