"""Shared pydantic bases: camelCase on the wire, snake_case in Python."""

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from schemas.text import (
    COMMAND_ID_PATTERN,
    ID_PATTERN,
    MAX_ID_LENGTH,
    MULTI_LINE_PATTERN,
    SINGLE_LINE_FORBIDDEN,
    SINGLE_LINE_PATTERN,
)


class CamelModel(BaseModel):
    """Wire models: camelCase JSON, unknown fields ignored (see README "Choices")."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        str_strip_whitespace=True,
        extra="ignore",
    )

    def wire(self) -> dict[str, object]:
        """The JSON-ready camelCase dict of the fields the sender set (explicit nulls kept)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def utc_now() -> datetime:
    return datetime.now(UTC)


# Bounded string types used by every DTO, so no field is unbounded; what their characters may
# be is `schemas.text`'s rule (ids: visible ASCII; text: no controls, bidi or zero-width
# characters; multi-line text may hold tabs and line breaks).
Id = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN
    ),
]

# `X-Request-ID` and `commandId`: URL-safe as well (`schemas.text`).
CommandId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH, pattern=COMMAND_ID_PATTERN
    ),
]


def _text(pattern: str, max_length: int, min_length: int | None) -> StringConstraints:
    return StringConstraints(
        strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=pattern
    )


def single_line(max_length: int, min_length: int | None = None) -> StringConstraints:
    """Trimmed single-line text of `min_length`–`max_length` characters (`Annotated[str,
    single_line(64)]`)."""
    return _text(SINGLE_LINE_PATTERN, max_length, min_length)


def multi_line(max_length: int, min_length: int | None = None) -> StringConstraints:
    """Trimmed text that may hold tabs and line breaks (notes, remarks, contents, ...)."""
    return _text(MULTI_LINE_PATTERN, max_length, min_length)


Name = Annotated[str, single_line(200, min_length=1)]
ShortText = Annotated[str, single_line(200)]
LongText = Annotated[str, multi_line(5000)]
Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=32, pattern=r"^\+?[0-9 ()-]+$"
    ),
]
_EMAIL_PART = rf"[^@\s{SINGLE_LINE_FORBIDDEN}]+"
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$",
    ),
]
Tag = Annotated[str, single_line(50, min_length=1)]


def _null_is_empty(value: object) -> object:
    return [] if value is None else value


# On a list field (`Annotated[Annotated[list[X], Field(max_length=n)] | None, NULL_IS_EMPTY]`):
# `null` is the empty list, in every request, payload and event (README "Input rules").
# An absent field stays absent (None): an update leaves it as it is.
NULL_IS_EMPTY = BeforeValidator(_null_is_empty)
Tags = Annotated[Annotated[list[Tag], Field(max_length=50)] | None, NULL_IS_EMPTY]

# Numbers are numbers and booleans booleans: `"5"` is not 5 and `true` is not 1 (pydantic's
# lax mode would take both). A float field takes an integer (JSON does not tell them apart).
StrictNumber = Annotated[float, Strict()]
StrictInteger = Annotated[int, Strict()]
StrictBoolean = Annotated[bool, Strict()]


# Timestamps and dates are stored as fixed-width strings (`2026-11-21T08:00:00.123Z`), which
# sort as strings only with four-digit years: the years a request may name are bounded so.
MIN_YEAR = 1000
MAX_YEAR = 9999
_YEAR_RANGE = f"must lie in the years {MIN_YEAR}–{MAX_YEAR} (UTC)"


def _bounded_moment(value: datetime) -> datetime:
    try:
        year = value.astimezone(UTC).year if value.tzinfo is not None else value.year
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError(f"timestamp {_YEAR_RANGE}") from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"timestamp {_YEAR_RANGE}")
    return value


def _bounded_day(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"date {_YEAR_RANGE}")
    return value


def _not_a_number(value: object) -> object:
    """Times and dates are ISO 8601 strings: a number (pydantic's lax mode would read Unix
    seconds, or milliseconds, or a day count) is refused, as is a boolean."""
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 string, not a number")
    return value


# Every timestamp/date field of a request, a command payload or an inbound event.
Timestamp = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_bounded_moment)]
BoundedDate = Annotated[date, BeforeValidator(_not_a_number), AfterValidator(_bounded_day)]


def iso_now() -> str:
    """Now as a fixed-width UTC ISO-8601 string (stored so, it sorts lexicographically).
    `iso(utc_now())`, without its conversions: now is already UTC, and its `+00:00`
    suffix is always six characters (on every command's path, twice)."""
    return utc_now().isoformat(timespec="milliseconds")[:-6] + "Z"


def iso(moment: datetime) -> str:
    """A fixed-width UTC ISO-8601 string with milliseconds, e.g. `2026-11-21T08:00:00.000Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    # isoformat pads the year to four digits on every platform (strftime's %Y does not)
    # and is several times cheaper than formatting field by field.
    return utc.isoformat(timespec="milliseconds") + "Z"
