"""Every request DTO, command payload and inbound event model is bounded; timestamps keep
the stored fixed-width form; validation errors are described without their input."""

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import schemas
from handlers.dead_letters import validation_summary
from schemas.base import iso
from schemas.customer_profile import AddInteractionRequest
from schemas.customers import UpdateCustomer
from schemas.envelope import CommandEnvelope
from schemas.follow_ups import CreateFollowUpRequest
from schemas.integration_events import MAX_EXTENSIONS, CloudEvent
from schemas.opportunities import CreateOpportunityRequest

# Models that only describe what we send (results, events, answers), never what we accept.
OUTPUT_MODELS = {
    "CommandResult",
    "CommandError",
    "ChangeEvent",
    "ParkedEvent",
    "ParkedEventPage",
    "ProfileErrorDetail",
    "ProfileApiError",
    "ProfileApiSuccess",
    "CrmApiError",
    "CommandAccepted",
    "ProfileCommandAccepted",
    "Topics",
}
# Open on purpose, and bounded elsewhere (the HTTP body limit, the Kafka message limit):
DELIBERATELY_OPEN = {
    # each item is validated on its own, so one bad item is reported, not the whole import
    "ImportCustomers.items[]",
    "ImportCustomersRequest.items[]",
    # validated by the payload model of the command's type
    "CommandEnvelope.payload",
    # validated by the data model of the event's type; extensions by CloudEvent itself
    "CloudEvent.data",
    "CloudEvent",
}


# Modules of answers only (documentation models of what readers get): nothing is read in.
OUTPUT_MODULES = {"views", "event_data"}


def input_models() -> list[type[BaseModel]]:
    found = []
    for module_info in pkgutil.iter_modules(schemas.__path__):
        if module_info.name in OUTPUT_MODULES:
            continue
        module = importlib.import_module(f"schemas.{module_info.name}")
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseModel)
                and obj.__module__ == module.__name__
                and obj.__name__ not in OUTPUT_MODELS
            ):
                found.append(obj)
    return found


def unbounded(schema: dict[str, Any], defs: dict[str, Any], path: str, seen: set[str]) -> list[str]:
    """Paths of strings, arrays, numbers or objects with no upper bound in a JSON schema."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return unbounded(defs[name], defs, path, seen | {name})
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += unbounded(option, defs, path, seen)
    kind = schema.get("type")
    fixed = any(k in schema for k in ("enum", "const"))
    if kind == "string" and not fixed and "maxLength" not in schema:
        if schema.get("format") not in ("date-time", "date"):
            found.append(path)
    elif kind == "array":
        if "maxItems" not in schema:
            found.append(path)
        found += unbounded(schema.get("items", {}), defs, f"{path}[]", seen)
    elif kind in ("integer", "number") and not ({"maximum", "exclusiveMaximum"} & set(schema)):
        found.append(path)
    elif kind == "object":
        for name, sub in schema.get("properties", {}).items():
            found += unbounded(sub, defs, f"{path}.{name}", seen)
        if schema.get("additionalProperties") not in (None, False):
            found.append(path)
    elif kind is None and not fixed and not any(k in schema for k in ("anyOf", "oneOf", "allOf")):
        found.append(path)  # any JSON value
    return found


@pytest.mark.parametrize("model", input_models(), ids=lambda model: model.__name__)
def test_every_input_field_is_bounded(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    open_paths = unbounded(schema, schema.get("$defs", {}), model.__name__, set())
    assert set(open_paths) <= DELIBERATELY_OPEN, f"unbounded: {sorted(open_paths)}"


def test_the_audit_sees_the_models_that_matter() -> None:
    names = {model.__name__ for model in input_models()}
    assert {"CreateCustomerRequest", "CommandEnvelope", "CloudEvent", "CreatePayment"} <= names
    assert len(names) > 40


def test_cloud_event_extensions_are_bounded() -> None:
    base = {"specversion": "1.0", "id": "e", "source": "s", "type": "t", "tenantid": "t1"}
    assert CloudEvent.model_validate({**base, "traceparent": "00-ab-cd-01", "seq": 3})
    too_many = {f"ext{i}": "v" for i in range(MAX_EXTENSIONS + 1)}
    for bad in (too_many, {"nested": {"a": 1}}, {"big": "x" * 5000}, {"x" * 65: "v"}):
        with pytest.raises(ValidationError):
            CloudEvent.model_validate({**base, **bad})


@pytest.mark.parametrize(
    "bad",
    [
        {"trace_id": "v"},  # CloudEvents: names are lower-case letters and digits
        {"Trace": "v"},
        {"note": "line\nbreak"},  # no control characters in a String attribute
        {"note": "\u202eevil"},  # nor a bidi override
        {"subject": "a\x00b"},
        {"type": "identity.linked\r\nX-Injected: 1"},
        {"datacontenttype": "application/json\x85"},
    ],
)
def test_cloud_event_attributes_follow_the_cloudevents_string_rules(bad: dict[str, Any]) -> None:
    base = {"specversion": "1.0", "id": "e", "source": "s", "type": "t", "tenantid": "t1"}
    assert CloudEvent.model_validate({**base, "subject": "customer 42", "note": "ok"})
    with pytest.raises(ValidationError):
        CloudEvent.model_validate({**base, **bad})


# --- timestamps --------------------------------------------------------------------------


def test_iso_pads_years_to_four_digits() -> None:
    assert iso(datetime(402, 12, 2, tzinfo=UTC)) == "0402-12-02T00:00:00.000Z"
    assert iso(datetime(2026, 11, 21, 8, 0, 0, 123456)) == "2026-11-21T08:00:00.123Z"


@pytest.mark.parametrize(
    "moment",
    [
        "0999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: used to raise OverflowError
        "9999-12-31T23:30:00-01:00",
        "1000-01-01T00:30:00+01:00",  # 999 in UTC
    ],
)
def test_timestamps_must_lie_in_four_digit_utc_years(moment: str) -> None:
    with pytest.raises(ValidationError):
        AddInteractionRequest.model_validate({"interactionType": "call", "occurredAt": moment})
    with pytest.raises(ValidationError):
        CreateFollowUpRequest.model_validate(
            {"customerId": "c", "content": "x", "followedAt": moment}
        )
    with pytest.raises(ValidationError):
        CommandEnvelope.model_validate(
            {"commandId": "c", "type": "customer.create", "tenantId": "t", "actorId": "a"}
            | {"issuedAt": moment}
        )


def test_edge_years_are_accepted() -> None:
    for moment in ("1000-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "2026-11-21T08:00:00"):
        AddInteractionRequest.model_validate({"interactionType": "call", "occurredAt": moment})


@pytest.mark.parametrize(
    "day", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-02:00", "0999-06-01", "2026-02-30"]
)
def test_dates_out_of_range_are_validation_errors_not_crashes(day: str) -> None:
    with pytest.raises(ValidationError):
        CreateOpportunityRequest.model_validate(
            {"customerId": "c", "name": "n", "expectedCloseDate": day}
        )


# --- describing a validation error -------------------------------------------------------


def test_validation_summary_names_fields_without_their_values() -> None:
    payload = {"customerId": "c1", "name": None, "phone": "13812345678"}
    with pytest.raises(ValidationError) as caught:
        UpdateCustomer.model_validate(payload)
    assert "13812345678" in str(caught.value)  # pydantic's own text quotes the payload
    summary = validation_summary(caught.value)
    assert "13812345678" not in summary
    assert summary.startswith("UpdateCustomer: ")
    assert "name cannot be null" in summary


def test_validation_summary_is_bounded() -> None:
    with pytest.raises(ValidationError) as caught:
        CommandEnvelope.model_validate({"payload": [1] * 50})
    assert "..." not in validation_summary(caught.value)  # five errors: all listed
    many = {f"f{i}": i for i in range(30)}
    with pytest.raises(ValidationError) as caught:
        UpdateCustomer.model_validate({"customerId": ["x"] * 3, "tags": list(many)} | many)
    assert len(validation_summary(caught.value)) < 2000
