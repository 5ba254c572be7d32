"""The one way a route writes: build the command envelope, send it, map its result."""

from typing import Any

from fastapi import Request

from http_facade.auth import Principal
from http_facade.context import FacadeContext
from http_facade.errors import ApiError
from schemas.envelope import CommandEnvelope, CommandResult, CommandStatus, CommandType
from schemas.errors import ErrorCode, ErrorKind
from schemas.ids import (
    INTEGRATION_COMMAND_PREFIX,
    created_customer_id,
    partition_key,
    reserved_command_id,
)

RESERVED_REQUEST_ID = f"X-Request-ID: the prefix {INTEGRATION_COMMAND_PREFIX} is reserved"

FINAL_ERRORS = (CommandStatus.REJECTED, CommandStatus.FAILED)


def command_key(envelope: CommandEnvelope, customer_id: str | None) -> bytes:
    """`{tenantId}:{customerId}`; a create is keyed by the customer it will create."""
    if customer_id is None and envelope.type is CommandType.CUSTOMER_CREATE:
        customer_id = created_customer_id(envelope.tenant_id, envelope.command_id)
    return partition_key(envelope.tenant_id, customer_id or envelope.command_id)


async def send_command(
    request: Request,
    context: FacadeContext,
    principal: Principal,
    command_type: CommandType,
    payload: dict[str, Any],
    *,
    customer_id: str | None = None,
) -> CommandResult:
    """Run a command for this request; a rejection (or a failure: the worker dead-lettered
    the command) becomes the matching HTTP error.

    The command id is the request's `X-Request-ID` (generated when absent), so a client
    retrying with the same header gets the first result back; one only integration events'
    commands may have (`schemas.ids.reserved_command_id`) is a 400. `payload` holds JSON values
    only (a request DTO's `wire()`, path ids, items checked by `_sendable`): it is
    published as it is.
    """
    if reserved_command_id(request.state.request_id):
        raise ApiError(ErrorKind.INVALID, ErrorCode.VALIDATION_ERROR.value, RESERVED_REQUEST_ID)
    envelope = CommandEnvelope(
        command_id=request.state.request_id,
        type=command_type,
        tenant_id=principal.tenant_id,
        actor_id=principal.user_id,
        payload=payload,
    )
    result = await context.commands.execute(envelope, command_key(envelope, customer_id))
    if result.status in FINAL_ERRORS and result.error is not None:
        raise ApiError(
            ErrorKind(result.error.kind),
            result.error.code,
            result.error.message,
            result.error.details or "",
        )
    return result
