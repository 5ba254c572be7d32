"""The journal's result record, built directly, is what the CommandResult model dumps."""

from datetime import UTC, datetime
from typing import Annotated, Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import StringConstraints, TypeAdapter

from schemas.envelope import CommandResult, CommandStatus, stored_result
from schemas.errors import ErrorKind

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.datetimes(timezones=st.just(UTC))
)
DATA = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# As validated ids are: stripped the way pydantic strips (not quite Python's `strip`).
STRIPPED = TypeAdapter(Annotated[str, StringConstraints(strip_whitespace=True)])
IDS = st.text(min_size=1, max_size=30).map(STRIPPED.validate_python).filter(bool)
ERRORS = st.none() | st.fixed_dictionaries(
    {"code": st.text(max_size=20), "kind": st.sampled_from(ErrorKind), "message": st.text()}
)


@given(IDS, IDS, IDS, st.sampled_from(CommandStatus), st.none() | IDS, DATA, ERRORS)
def test_stored_result_is_the_models_dump(
    command_id: str,
    command_type: str,
    tenant_id: str,
    status: CommandStatus,
    entity_id: str | None,
    data: Any,
    error: dict[str, Any] | None,
) -> None:
    expected = CommandResult(
        command_id=command_id,
        type=command_type,
        tenant_id=tenant_id,
        status=status,
        entity_id=entity_id,
        data=data,
        error=error,  # type: ignore[arg-type]
        completed_at=None,
    ).model_dump(mode="json", by_alias=True)
    built = stored_result(command_id, command_type, tenant_id, status, entity_id, data, error)
    assert built == expected
    assert list(built) == list(expected)  # the same field order, as stored


def test_a_datetime_in_the_data_is_stored_as_the_model_stores_it() -> None:
    moment = datetime(2026, 11, 21, 8, 0, 0, 123456, tzinfo=UTC)
    built = stored_result(
        "c", "customer.create", "t", CommandStatus.SUCCEEDED, "e", {"at": moment}, None
    )
    assert built["data"] == {"at": "2026-11-21T08:00:00.123456Z"}


def test_infinite_numbers_are_stored_as_the_model_dumps_them() -> None:
    """Hypothesis found it: JSON has no infinity, and the model dumps it as null."""
    data = {"score": float("inf"), "low": [-float("inf"), 1.5]}
    expected = CommandResult(
        command_id="c", type="t", tenant_id="t1", status=CommandStatus.SUCCEEDED, data=data
    ).model_dump(mode="json", by_alias=True)
    built = stored_result("c", "t", "t1", CommandStatus.SUCCEEDED, None, data, None)
    assert built == expected and built["data"] == {"score": None, "low": [None, 1.5]}
