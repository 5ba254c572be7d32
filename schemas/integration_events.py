"""Inbound integration events on `crm.integration.events`: CloudEvents 1.0
(docs/architecture.md, "Integration events").

The envelope attributes are CloudEvents' own lowercase names (`specversion`, `id`,
`source`, `type`, `time`, `data` and the `tenantid` extension); `data` is camelCase like
the HTTP bodies. Each event type's `data` reuses the customer profile API's models, so an
event accepts exactly what the matching HTTP request accepts.
"""

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.base import CamelModel, Email, Id, Phone, Timestamp
from schemas.customer_profile import (
    AddInteractionRequest,
    BindExternalIdentityRequest,
    ExternalIdentity,
    ProfileMetrics,
)
from schemas.text import SINGLE_LINE_PATTERN


class IntegrationEventType(StrEnum):
    IDENTITY_LINKED = "identity.linked"
    IDENTITY_UNLINKED = "identity.unlinked"
    PROFILE_METRICS = "profile.metrics"
    INTERACTION_RECORDED = "interaction.recorded"


MAX_EXTENSIONS = 32
MAX_EXTENSION_NAME = 64  # CloudEvents: "SHOULD NOT exceed 20"; some producers do
MAX_EXTENSION_VALUE = 2048
# CloudEvents 1.0: attribute names are lower-case ASCII letters and digits; a String
# attribute holds no control character (U+0000–U+001F, U+007F–U+009F). Our single-line rule
# (`schemas.text`) also refuses bidi overrides and zero-width characters, as in HTTP bodies.
EXTENSION_NAME = re.compile(r"[a-z0-9]+")
_SINGLE_LINE = re.compile(SINGLE_LINE_PATTERN)
AttributeText = Annotated[str, Field(pattern=SINGLE_LINE_PATTERN)]


class CloudEvent(BaseModel):
    """A structured-mode CloudEvent 1.0 with the `tenantid` extension.

    `source` is the external system; `id` is unique per source, so `(source, id)` names
    the event (a redelivery carries the same pair). Other extensions are kept as given:
    at most 32 of them, each a scalar (strings up to 2048 characters), as CloudEvents
    attribute values are.
    """

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"]
    id: Id
    source: Id
    type: Annotated[AttributeText, Field(min_length=1, max_length=128)]
    tenantid: Id
    time: Timestamp | None = None
    subject: Annotated[AttributeText, Field(max_length=256)] | None = None
    datacontenttype: Annotated[AttributeText, Field(max_length=128)] | None = None
    dataschema: Annotated[AttributeText, Field(max_length=1024)] | None = None
    data: Any = None

    @model_validator(mode="after")
    def _bounded_extensions(self) -> "CloudEvent":
        extensions = self.model_extra or {}
        if len(extensions) > MAX_EXTENSIONS:
            raise ValueError(f"at most {MAX_EXTENSIONS} extension attributes")
        for name, value in extensions.items():
            scalar = value is None or isinstance(value, str | int | float)
            if len(name) > MAX_EXTENSION_NAME or not EXTENSION_NAME.fullmatch(name):
                raise ValueError(
                    f"an extension name is 1-{MAX_EXTENSION_NAME} lower-case letters and digits"
                )
            if not scalar:
                raise ValueError(f"extension {name!r}: a scalar value")
            if isinstance(value, str) and len(value) > MAX_EXTENSION_VALUE:
                raise ValueError(f"extension {name!r}: at most {MAX_EXTENSION_VALUE} characters")
            if isinstance(value, str) and not _SINGLE_LINE.match(value):
                raise ValueError(f"extension {name!r}: no control or invisible characters")
        return self


class CustomerMatch(CamelModel):
    """Find the customer by contact points: phone (exact) and/or email (case-insensitive)."""

    phone: Phone | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _something_to_match(self) -> "CustomerMatch":
        if self.phone is None and self.email is None:
            raise ValueError("match needs a phone or an email")
        return self


def _exactly_one(first: object, second: object, names: str) -> None:
    if (first is None) == (second is None):
        raise ValueError(f"exactly one of {names} is required")


class IdentityLinkedData(BindExternalIdentityRequest):
    """`identity.linked`: bind this identity to `customerId`, or to the one customer that
    `match` finds in the tenant (no match, or several, and the event is parked)."""

    customer_id: Id | None = None
    match: CustomerMatch | None = None

    @model_validator(mode="after")
    def _one_target(self) -> "IdentityLinkedData":
        _exactly_one(self.customer_id, self.match, "customerId and match")
        return self


class IdentityUnlinkedData(ExternalIdentity):
    """`identity.unlinked`: remove this identity's binding (whichever customer holds it)."""


class CustomerOrIdentity(CamelModel):
    """The customer an event is about: by id, or by an external identity bound to it."""

    customer_id: Id | None = None
    identity: ExternalIdentity | None = None

    @model_validator(mode="after")
    def _one_target(self) -> "CustomerOrIdentity":
        _exactly_one(self.customer_id, self.identity, "customerId and identity")
        return self


class ProfileMetricsData(CustomerOrIdentity):
    """`profile.metrics`: a profile refresh with these metrics; its source is the event's."""

    metrics: ProfileMetrics


class InteractionRecordedData(CustomerOrIdentity, AddInteractionRequest):
    """`interaction.recorded`: the customer profile API's interaction fields; `occurredAt`
    defaults to the event's `time`."""


IntegrationEventData = (
    IdentityLinkedData | IdentityUnlinkedData | ProfileMetricsData | InteractionRecordedData
)

DATA_MODELS: dict[IntegrationEventType, type[CamelModel]] = {
    IntegrationEventType.IDENTITY_LINKED: IdentityLinkedData,
    IntegrationEventType.IDENTITY_UNLINKED: IdentityUnlinkedData,
    IntegrationEventType.PROFILE_METRICS: ProfileMetricsData,
    IntegrationEventType.INTERACTION_RECORDED: InteractionRecordedData,
}


class ParkReason(StrEnum):
    """Why an event's customer could not be resolved."""

    UNKNOWN_CUSTOMER = "unknown_customer"  # `customerId` names no live customer of the tenant
    UNKNOWN_IDENTITY = "unknown_identity"  # the identity is bound to nobody in the tenant
    NO_MATCH = "no_match"  # `match` finds no customer
    AMBIGUOUS_MATCH = "ambiguous_match"  # `match` finds two or more customers: not guessed


class ParkedEvent(CamelModel):
    """One parked event as `GET /api/v1/crm/integration-events/parked` lists it."""

    id: str
    event_id: str
    source: str
    type: IntegrationEventType
    reason: ParkReason
    identity: ExternalIdentity | None = Field(
        default=None, description="the external identity whose binding releases the event"
    )
    customer_id: str | None = Field(default=None, description="the customer id the event named")
    parked_at: str
    last_tried_at: str | None = Field(default=None, description="last release attempt")
    last_error: str | None = Field(default=None, description="why that attempt failed")
    event: dict[str, Any] = Field(description="the CloudEvent as received (phones masked)")


class ParkedEventPage(CamelModel):
    items: list[ParkedEvent]
    total: int
    page: int
    page_size: int
