"""The input rules hold for every request DTO, command payload and inbound event model
(README "Input rules"), not only for the fields someone remembered: every string is an id,
single-line or multi-line text (or has a stricter pattern of its own), every number and
boolean refuses the other JSON types, and `null` for every list is the empty list."""

from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from handlers.command_consumer import Poison, decode_envelope
from schemas.base import CommandId, Id, LongText, Name
from schemas.text import (
    COMMAND_ID_PATTERN,
    ID_PATTERN,
    MULTI_LINE_PATTERN,
    SINGLE_LINE_PATTERN,
    is_command_id,
    is_id,
)
from tests.unit.test_input_bounds import input_models

# Stricter patterns of their own (each refuses every character the text rule refuses).
OWN_PATTERNS = {
    r"^\+?[0-9 ()-]+$",  # phone
    r"^[A-Za-z0-9_.-]+$",  # system name
    r"^[!-~]*$",  # X-User-Id (empty: none given)
}
# CloudEvent attributes that are checked against known values or kept only inside the raw
# event (never stored or shown on their own): `type` must name a known event type.
NOT_TEXT = {
    "CloudEvent.type",
    "CloudEvent.subject",
    "CloudEvent.datacontenttype",
    "CloudEvent.dataschema",
}
TEXT_PATTERNS = {ID_PATTERN, COMMAND_ID_PATTERN, SINGLE_LINE_PATTERN, MULTI_LINE_PATTERN}


def strings_without_a_rule(
    schema: dict[str, Any], defs: dict[str, Any], path: str, seen: set[str]
) -> list[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return strings_without_a_rule(defs[name], defs, path, seen | {name})
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += strings_without_a_rule(option, defs, path, seen)
    kind = schema.get("type")
    if kind == "string" and not any(k in schema for k in ("enum", "const", "format")):
        pattern = schema.get("pattern") or ""
        e_mail = pattern.startswith("^[^@\\s\\x00-\\x1f")
        if pattern not in TEXT_PATTERNS | OWN_PATTERNS and not e_mail:
            found.append(path)
    elif kind == "array":
        found += strings_without_a_rule(schema.get("items", {}), defs, f"{path}[]", seen)
    elif kind == "object":
        for name, sub in schema.get("properties", {}).items():
            found += strings_without_a_rule(sub, defs, f"{path}.{name}", seen)
    return found


@pytest.mark.parametrize("model", input_models(), ids=lambda model: model.__name__)
def test_every_input_string_follows_a_character_rule(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    loose = strings_without_a_rule(schema, schema.get("$defs", {}), model.__name__, set())
    assert set(loose) <= NOT_TEXT, f"strings without a character rule: {sorted(loose)}"


def _field_adapters(model: type[BaseModel]) -> list[tuple[str, TypeAdapter[Any], dict[str, Any]]]:
    found = []
    for name, info in model.model_fields.items():
        typed: Any = info.annotation
        if info.metadata:
            typed = Annotated[typed, *info.metadata]
        adapter: TypeAdapter[Any] = TypeAdapter(typed)
        found.append((f"{model.__name__}.{name}", adapter, adapter.json_schema()))
    return found


def _kinds(schema: dict[str, Any]) -> set[str]:
    kinds = {schema["type"]} if "type" in schema else set()
    for option in schema.get("anyOf", []):
        kinds |= _kinds(option)
    return kinds


def _refuses(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("model", input_models(), ids=lambda model: model.__name__)
def test_numbers_and_booleans_refuse_the_other_json_types(model: type[BaseModel]) -> None:
    checked = []
    for where, adapter, schema in _field_adapters(model):
        kinds = _kinds(schema)
        if kinds & {"number", "integer"}:
            wrong: tuple[Any, ...] = ("1", True, False)
        elif "boolean" in kinds:
            wrong = (1, 0, "true", "false")
        else:
            continue
        checked.append(where)
        for value in wrong:
            assert _refuses(adapter, value), f"{where} accepts {value!r}"


def test_the_strictness_audit_sees_the_numeric_fields() -> None:
    seen = {
        where
        for model in input_models()
        for where, _, schema in _field_adapters(model)
        if _kinds(schema) & {"number", "integer", "boolean"}
    }
    assert {
        "CreatePaymentRequest.amount",
        "ProfileMetrics.issue_count",
        "UpdateCommitment.progress",
        "CreateContactRequest.is_primary",
    } <= seen


def _outcome(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        return [error["type"] for error in exc.errors()]


@pytest.mark.parametrize("model", input_models(), ids=lambda model: model.__name__)
def test_null_for_a_list_field_is_the_empty_list(model: type[BaseModel]) -> None:
    """Everywhere alike: `null` validates as `[]` does (an import of no items is a 400)."""
    lists = [(w, a) for w, a, schema in _field_adapters(model) if "array" in _kinds(schema)]
    for where, adapter in lists:
        assert _outcome(adapter, None) == _outcome(adapter, []), where
    if model.__name__ in ("CreateCustomerRequest", "AddServiceRecordRequest"):
        assert lists


@pytest.mark.parametrize(
    "value,ok",
    [
        ("9b1d6f0e-8c3a-4e57-9a6e-6f1c3c3e2f4b", True),
        ("integration:9b1d6f0e", True),
        ("auth0|5f7c8ec7c33c6c004bbafe82", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        ("a b", False),
        ("a\tb", False),
        ("é", False),
        ("ａ", False),  # a full-width lookalike
        ("a\u200bb", False),
    ],
)
def test_the_id_rule(value: str, ok: bool) -> None:
    assert is_id(value) is ok
    assert (not _refuses(TypeAdapter(Id), value)) is ok


# What pydantic's `strip_whitespace` trims: Unicode White_Space. Python's `str.strip()` also
# trims U+001C–U+001F (information separators), which pydantic keeps and the id rule refuses
# as control characters (Hypothesis found `"0\x1f"`).
UNICODE_WHITE_SPACE = "".join(
    c for c in map(chr, range(0x3001)) if c.isspace() and c not in "\x1c\x1d\x1e\x1f"
)


@given(st.text(max_size=140))
def test_the_id_type_and_the_id_check_agree(text: str) -> None:
    """`Id` trims surrounding whitespace first, as it always did; the rest is `is_id`."""
    accepted = not _refuses(TypeAdapter(Id), text)
    assert accepted == is_id(text.strip(UNICODE_WHITE_SPACE))


def test_an_information_separator_is_refused_not_trimmed() -> None:
    assert _refuses(TypeAdapter(Id), "0\x1f")


@pytest.mark.parametrize(
    "value,ok",
    [
        ("9b1d6f0e-8c3a-4e57-9a6e-6f1c3c3e2f4b", True),
        ("integration:9b1d6f0e", True),
        ("A.b_c:d-9", True),
        ("k" * 128, True),
        ("k" * 129, False),
        ("", False),
        ("a/b", False),
        ("a?b", False),
        ("a#b", False),
        ("a%2Fb", False),
        ("t1|k", False),
        ("a b", False),
        ("é", False),
    ],
)
def test_the_command_id_rule(value: str, ok: bool) -> None:
    assert is_command_id(value) is ok
    assert (not _refuses(TypeAdapter(CommandId), value)) is ok


@given(st.text(max_size=140))
def test_the_command_id_type_and_check_agree_and_refine_the_id_rule(text: str) -> None:
    accepted = not _refuses(TypeAdapter(CommandId), text)
    assert accepted == is_command_id(text.strip(UNICODE_WHITE_SPACE))
    assert not accepted or is_id(text.strip(UNICODE_WHITE_SPACE))


@pytest.mark.parametrize("command_id", ["k" * 129, "orders/42", "t1|42", "заказ"])
def test_a_kafka_command_whose_id_breaks_the_rule_is_poison(command_id: str) -> None:
    value = (
        f'{{"commandId": "{command_id}", "type": "customer.create", "tenantId": "t1", '
        '"actorId": "p1", "payload": {"name": "Acme"}}'
    ).encode()
    with pytest.raises(Poison) as caught:
        decode_envelope(value)
    assert caught.value.reason == "invalid_envelope"
    assert "commandId" in str(caught.value)


SINGLE_LINE_FORBIDDEN = (
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + ["\u061c", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)


@pytest.mark.parametrize("char", SINGLE_LINE_FORBIDDEN, ids=lambda char: f"U+{ord(char):04X}")
def test_single_line_text_refuses_the_character_inside(char: str) -> None:
    assert _refuses(TypeAdapter(Name), f"a{char}b")
    assert _refuses(TypeAdapter(LongText), f"a{char}b") is (char not in "\t\n\r")


@given(st.text(max_size=40))
def test_accepted_text_holds_no_forbidden_character(text: str) -> None:
    for adapter, allowed in ((TypeAdapter(Name), ""), (TypeAdapter(LongText), "\t\n\r")):
        try:
            value = adapter.validate_python(text)
        except ValidationError:
            continue
        assert not set(value) & (set(SINGLE_LINE_FORBIDDEN) - set(allowed)), repr(value)
