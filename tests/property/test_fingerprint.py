"""A command's fingerprint stays what journals and 202 records already hold: the SHA-256
of its canonical JSON (sorted keys, no spaces, anything else as its `str`)."""

import hashlib
import json
from datetime import UTC
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.envelope import fingerprint

VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.datetimes(timezones=st.just(UTC)),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.text(max_size=30), st.dictionaries(st.text(max_size=8), VALUES, max_size=5))
def test_fingerprint_is_the_sha256_of_the_canonical_json(
    command_type: str, payload: dict[str, Any]
) -> None:
    canonical = json.dumps(
        {"type": command_type, "payload": payload},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    assert fingerprint(command_type, payload) == hashlib.sha256(canonical.encode()).hexdigest()


def test_fingerprint_of_a_known_command_is_unchanged() -> None:
    # computed with the first release's definition; a stored journal depends on it
    payload = {"phone": "13812345678", "name": "Acme"}
    canonical = b'{"payload":{"name":"Acme","phone":"13812345678"},"type":"customer.create"}'
    assert fingerprint("customer.create", payload) == hashlib.sha256(canonical).hexdigest()
