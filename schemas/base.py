"""Shared pydantic bases: camelCase on the wire, snake_case in Python."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
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


def iso_now() -> str:
    """Now as a fixed-width UTC ISO-8601 string (stored so, it sorts lexicographically)."""
    return iso(utc_now())


def iso(moment: datetime) -> str:
    """A fixed-width UTC ISO-8601 string with milliseconds, e.g. `2026-11-21T08:00:00.000Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )
