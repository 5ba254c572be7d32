"""Outbound change events (CloudEvents 1.0 on crm.customer-events).

Besides the spec's attributes every event has the extensions `tenantid`, `sequence`
(per customer: 1, 2, 3, ... with no gaps), `causationid` (the command id) and
`changeorigin` (what caused it: `http`, `kafka` or `integration:<source system>`). An
event about a document that replaced a stored one (`*.updated`, `crm.customer.vip_marked`,
`crm.customer.profile_refreshed`, `*.deleted`) also has `changedfields` (the top-level
fields of `data` whose value changed, comma-separated camelCase names) and
`previousvalues` (a JSON object, as a string: the previous value of each changed field
that existed before; a changed field missing from it did not exist before). CloudEvents
extension values are scalars, hence a string. `data` stays the entity's current view.
"""

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CHANGE_EVENT_SOURCE = "crm-worker"
SPEC_VERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"

ORIGIN_HTTP = "http"
ORIGIN_KAFKA = "kafka"
ORIGIN_INTEGRATION = "integration:"  # + the external system (the event's `source`)


def integration_origin(source: str) -> str:
    return ORIGIN_INTEGRATION + source


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
    sequence: int = Field(ge=1)  # per customer: 1, 2, 3, ... in publish order, no gaps
    causationid: str  # the command id
    changeorigin: str  # http | kafka | integration:<source system>
    changedfields: str | None = None  # updates: comma-separated camelCase field names
    previousvalues: str | None = None  # updates: JSON object of the changed fields' values
    data: dict[str, Any]


def change_event_type(entity: str, past_tense: str) -> str:
    """`crm.customer.created`, `crm.customer.vip_marked`, ..."""
    return f"crm.{entity}.{past_tense}"


def _same(a: Any, b: Any) -> bool:
    """JSON equality that tells `1`, `1.0` and `true` apart (Python's `==` does not)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def field_changes(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """The top-level fields whose value differs between two views (set, changed or
    removed), and the previous value of each of them that `before` has."""
    changed = [
        name
        for name, value in after.items()
        if name not in before or not _same(before[name], value)
    ]
    changed += [name for name in before if name not in after]
    return changed, {name: before[name] for name in changed if name in before}


def previous_view(event: dict[str, Any]) -> dict[str, Any]:
    """What a consumer rebuilds from an event with `changedfields`: the entity's view
    before the change (its `data` with each changed field put back, or removed when
    `previousvalues` does not have it)."""
    view = dict(event["data"])
    previous = json.loads(event.get("previousvalues") or "{}")
    for name in filter(None, (event.get("changedfields") or "").split(",")):
        if name in previous:
            view[name] = previous[name]
        else:
            view.pop(name, None)
    return view
