"""The command envelope on `crm.commands` and the command result record."""

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, field_serializer
from pydantic_core import to_jsonable_python

from schemas.base import CamelModel, CommandId, Id, Timestamp, iso, utc_now
from schemas.errors import ErrorKind


class CommandType(StrEnum):
    CUSTOMER_CREATE = "customer.create"
    CUSTOMER_UPDATE = "customer.update"
    CUSTOMER_DELETE = "customer.delete"
    CUSTOMER_IMPORT = "customer.import"
    CUSTOMER_BIND_EXTERNAL = "customer.bind_external"
    CUSTOMER_UNBIND_EXTERNAL = "customer.unbind_external"
    CUSTOMER_REFRESH_PROFILE = "customer.refresh_profile"
    CUSTOMER_ADD_INTERACTION = "customer.add_interaction"
    CUSTOMER_ADD_SERVICE_RECORD = "customer.add_service_record"
    CUSTOMER_UPDATE_COMMITMENT = "customer.update_commitment"
    CUSTOMER_MARK_VIP = "customer.mark_vip"
    CONTACT_CREATE = "contact.create"
    CONTACT_UPDATE = "contact.update"
    CONTACT_DELETE = "contact.delete"
    OPPORTUNITY_CREATE = "opportunity.create"
    OPPORTUNITY_UPDATE = "opportunity.update"
    OPPORTUNITY_DELETE = "opportunity.delete"
    FOLLOW_UP_CREATE = "follow_up.create"
    FOLLOW_UP_UPDATE = "follow_up.update"
    FOLLOW_UP_DELETE = "follow_up.delete"
    CONTRACT_CREATE = "contract.create"
    PAYMENT_CREATE = "payment.create"


class CommandEnvelope(CamelModel):
    """`{"commandId", "type", "tenantId", "actorId", "issuedAt", "payload"}` on crm.commands."""

    command_id: CommandId
    type: CommandType
    tenant_id: Id
    actor_id: Id
    issued_at: Timestamp = Field(default_factory=utc_now)
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_serializer("issued_at", when_used="json")
    def _issued_as_stored(self, moment: datetime) -> str:
        """As every timestamp the service writes: fixed-width UTC with milliseconds."""
        return iso(moment)

    def wire_with_json_payload(self) -> dict[str, Any]:
        """The envelope's JSON, every field included (`issuedAt` too, when it was left to
        its default: now), for an envelope whose payload holds JSON values already (the
        facade's: request DTOs' `wire()`, path ids, an import's checked items): the
        payload is taken as it is rather than walked into a copy (an import's: 2000
        items)."""
        fields = self.model_dump(mode="json", by_alias=True, exclude={"payload"})
        return {**fields, "payload": self.payload}


class CommandStatus(StrEnum):
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    PENDING = "pending"
    FAILED = "failed"  # dead-lettered by the worker: terminal, like the other two


class CommandError(CamelModel):
    code: str
    message: str
    kind: ErrorKind
    details: str | None = None


class CommandResult(CamelModel):
    """What a command did; stored by the worker, read by the facade and the status route."""

    command_id: str
    type: str
    tenant_id: str
    status: CommandStatus
    entity_id: str | None = None
    data: Any = None
    error: CommandError | None = None
    completed_at: datetime | None = None

    @field_serializer("completed_at", when_used="json")
    def _as_stored(self, moment: datetime | None) -> str | None:
        """As every timestamp the service returns: fixed-width UTC with milliseconds."""
        return None if moment is None else iso(moment)


def stored_result(
    command_id: str,
    command_type: str,
    tenant_id: str,
    status: CommandStatus,
    entity_id: str | None,
    data: Any,
    error: dict[str, Any] | None,
    *,
    data_is_json: bool = False,
) -> dict[str, Any]:
    """A command's result as the journal stores it, still to complete: what
    `CommandResult(...).model_dump(mode="json", by_alias=True)` gives, built directly (the
    model costs more than the rest of the step, on every command). A rejection's error
    still goes through the model, which validates its kind. The ids come validated, so
    already stripped, from the envelope and the payload (or are derived).

    `data_is_json`: the decision built its data of JSON values only (an import's
    thousands of item outcomes), which the model's dump would copy as they are."""
    if error is not None:
        return CommandResult(
            command_id=command_id,
            type=command_type,
            tenant_id=tenant_id,
            status=status,
            entity_id=entity_id,
            data=data,
            error=error,  # type: ignore[arg-type]
        ).model_dump(mode="json", by_alias=True)
    return {
        "commandId": command_id,
        "type": command_type,
        "tenantId": tenant_id,
        "status": CommandStatus(status).value,
        "entityId": entity_id,
        # as the model: ±inf -> null
        "data": data if data_is_json else to_jsonable_python(data, inf_nan_mode="null"),
        "error": None,
        "completedAt": None,
    }


# `json.dumps(..., sort_keys=True, separators=(",", ":"), default=str)`, with the encoder
# built once rather than on every call (every command computes a fingerprint).
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(command_type: str, payload: dict[str, Any]) -> str:
    """A stable digest of what a command asks for: same key + other body = key reuse."""
    canonical = _CANONICAL_JSON.encode({"type": command_type, "payload": payload})
    return hashlib.sha256(canonical.encode()).hexdigest()
