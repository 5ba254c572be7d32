"""`DumpsOf(Model)` accepts what the model accepts and gives what the model dumps."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError, field_validator

from schemas.base import CamelModel
from schemas.customers import CreateCustomer
from schemas.dumps import DumpsOf

CREATE = DumpsOf(CreateCustomer)

# Every input name the model knows (camelCase aliases and snake_case names), and some
# it does not.
KEYS = sorted(
    {info.alias or name for name, info in CreateCustomer.model_fields.items()}
    | set(CreateCustomer.model_fields)
    | {"id", "_id", "Name", "extra"}
)
TEXT = st.text(st.sampled_from(" \t\nab+()-0123456789@.xé客"), max_size=12) | st.text(
    min_size=190, max_size=260
)
VALUES = (
    st.none()
    | TEXT
    | st.integers(-5, 10**12)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.lists(TEXT | st.none() | st.integers(), max_size=52)
    | st.dictionaries(TEXT, TEXT, max_size=2)
)
ITEMS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8)
# Valid most of the time, so the dumps themselves are compared often.
LIKELY_VALID = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=20).filter(str.strip)},
    optional={
        "phone": st.sampled_from(["13812345678", " +86 (21) 555-0100 ", "12", None]),
        "email": st.sampled_from(["a@b.cn", " x@y.org ", "nope", None]),
        "tags": st.lists(st.sampled_from(["vip", " a ", "", "b" * 51]), max_size=3),
        "ownerId": st.sampled_from(["u1", "  ", None]),
        "owner_id": st.sampled_from(["u2", None]),
        "level": TEXT,
        "remark": st.none() | TEXT,
    },
)


def model_outcome(item: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return CreateCustomer.model_validate(item).model_dump(by_alias=True, exclude_none=True)
    except ValidationError:
        return None


def mirrored_outcome(items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    try:
        return CREATE.validate(items)
    except ValidationError:
        return None


@settings(max_examples=400)
@given(st.lists(ITEMS | LIKELY_VALID, min_size=1, max_size=4))
def test_validates_and_dumps_as_the_model(items: list[dict[str, Any]]) -> None:
    expected = [model_outcome(item) for item in items]
    got = mirrored_outcome(items)
    if any(outcome is None for outcome in expected):
        assert got is None  # one invalid item fails the list, as the model fails it
        return
    assert got == expected
    assert [list(dump or {}) for dump in got] == [list(dump or {}) for dump in expected]  # order


def test_a_model_it_cannot_mirror_is_refused() -> None:
    class Checked(CamelModel):
        name: str

        @field_validator("name")
        @classmethod
        def _upper(cls, value: str) -> str:
            return value.upper()

    class Defaulted(BaseModel):
        level: str = "A"

    class Nested(BaseModel):
        owner: list[Defaulted] | None = None

    class Renamed(BaseModel):
        level: str = Field(serialization_alias="tier")

    with pytest.raises(TypeError, match="field_validators"):
        DumpsOf(Checked)
    with pytest.raises(TypeError, match="default other than None"):
        DumpsOf(Defaulted)
    with pytest.raises(TypeError, match="holds a model"):
        DumpsOf(Nested)
    with pytest.raises(TypeError, match="another name"):
        DumpsOf(Renamed)


def test_the_models_string_settings_and_names_are_mirrored() -> None:
    class Plain(CamelModel):  # plain `str` fields: only the model's settings strip them
        given_name: str
        note: str | None = None

    items: list[dict[str, Any]] = [
        {"givenName": " Ann ", "note": None, "unknown": 1},
        {"given_name": "Bo", "note": " n "},
    ]
    assert DumpsOf(Plain).validate(items) == [
        Plain.model_validate(item).model_dump(by_alias=True, exclude_none=True) for item in items
    ]
    assert DumpsOf(Plain).validate(items) == [
        {"givenName": "Ann"},
        {"givenName": "Bo", "note": "n"},
    ]
