"""The gateway publishes its payloads as they are: for JSON values (all a route gives it),
that is exactly the envelope's full JSON dump, `issuedAt` included (docs/architecture.md,
"Commands")."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.envelope import CommandEnvelope, CommandType

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), JSON, max_size=5), st.sampled_from(list(CommandType)))
def test_a_json_payload_is_published_as_the_full_dump_gives_it(
    payload: dict[str, Any], command_type: CommandType
) -> None:
    envelope = CommandEnvelope(
        command_id="c1", type=command_type, tenant_id="t1", actor_id="u1", payload=payload
    )
    full = envelope.model_dump(mode="json", by_alias=True)
    assert envelope.wire_with_json_payload() == full
    assert list(envelope.wire_with_json_payload()) == list(full)
    assert list(full) == ["commandId", "type", "tenantId", "actorId", "issuedAt", "payload"]
