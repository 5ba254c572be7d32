"""Outbound change events (CloudEvents 1.0 on crm.customer-events)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

CHANGE_EVENT_SOURCE = "crm-worker"
SPEC_VERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"


class ChangeEvent(BaseModel):
    """A CloudEvents 1.0 JSON change event; attribute names are the spec's lowercase ones."""

    model_config = ConfigDict(extra="allow")

    specversion: str = SPEC_VERSION
    id: str
    source: str = CHANGE_EVENT_SOURCE
    type: str  # crm.<entity>.<past-tense>
    subject: str  # the entity id
    time: datetime
    datacontenttype: str = DATA_CONTENT_TYPE
    tenantid: str
    sequence: int  # per customer, increasing in publish order
    causationid: str  # the command id
    data: dict[str, Any]


def change_event_type(entity: str, past_tense: str) -> str:
    """`crm.customer.created`, `crm.customer.vip_marked`, ..."""
    return f"crm.{entity}.{past_tense}"
