"""Shared pydantic bases: camelCase on the wire, snake_case in Python."""

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel


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


# Bounded string types used by every DTO, so no field is unbounded.
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=32, pattern=r"^\+?[0-9 ()-]+$"
    ),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Tags = Annotated[list[Tag], Field(max_length=50)]


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


# Every timestamp/date field of a request, a command payload or an inbound event.
Timestamp = Annotated[datetime, AfterValidator(_bounded_moment)]
BoundedDate = Annotated[date, AfterValidator(_bounded_day)]


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
