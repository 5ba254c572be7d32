"""The command-status resource (answers to 202s of both API families), AsyncAPI and
readiness (`/ready`: started, broker and store reachable; liveness is the CRM API's `/health`)."""

from typing import Annotated

import yaml
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from http_facade.auth import require_permission
from http_facade.context import AnyRead, Ctx
from http_facade.errors import not_found
from http_facade.masking import mask_phones
from http_facade.openapi_docs import API_B_ERRORS
from schemas.base import CommandId
from schemas.envelope import CommandResult
from schemas.errors import ErrorCode

router = APIRouter(tags=["system"])
CRM_V2_PATH = "/api/v1/crm"


CUSTOMERS_READ, CRM_READ = "customers.read", "crm.read"
# A command's result is read with the permission that reads the entity it is about.
READ_PERMISSION_OF_ENTITY = {
    "customer": CUSTOMERS_READ,
    "contact": CUSTOMERS_READ,
    "opportunity": CRM_READ,
    "follow_up": CRM_READ,
    "contract": CRM_READ,
    "payment": CRM_READ,
}


def read_permission_of(command_type: str) -> tuple[str, ...]:
    """`customer.mark_vip` → `customers.read`, `payment.create` → `crm.read`, ...; a type
    this build does not know needs both."""
    entity = command_type.partition(".")[0]
    known = READ_PERMISSION_OF_ENTITY.get(entity)
    return (known,) if known is not None else (CUSTOMERS_READ, CRM_READ)


@router.get(
    "/api/v1/crm/commands/{commandId}",
    summary="Command status: the stored result of a command (202 answers point here)",
    description=(
        "Needs the permission that reads the entity the command is about (`customers.read` "
        "for customer and contact commands, `crm.read` for opportunities, follow-ups, "
        "contracts and payments); phones in the result are masked without `customers.pii`. "
        "Another tenant's command, or one never sent, is 404."
    ),
    responses={200: {"model": CommandResult}, **API_B_ERRORS},
)
async def command_status(
    commandId: Annotated[CommandId, Path()], ctx: Ctx, principal: AnyRead
) -> JSONResponse:
    result = await ctx.commands.status(principal.tenant_id, commandId)
    if result is None:
        raise not_found(ErrorCode.COMMAND_NOT_FOUND, "command", commandId)
    for permission in read_permission_of(result.type):
        require_permission(principal, permission)
    body = result.model_dump(mode="json", by_alias=True)
    if not principal.sees_pii:
        body["data"] = mask_phones(body["data"])
    return JSONResponse(body)


@router.get("/asyncapi.json", summary="AsyncAPI 3.0 document of the Kafka topics (JSON)")
async def asyncapi_json(ctx: Ctx) -> JSONResponse:
    return JSONResponse(ctx.asyncapi)


@router.get(
    "/asyncapi.yaml",
    summary="AsyncAPI 3.0 document of the Kafka topics (YAML)",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {}}}},
)
async def asyncapi_yaml(ctx: Ctx) -> Response:
    text = yaml.safe_dump(ctx.asyncapi, sort_keys=False, allow_unicode=True)
    return Response(text, media_type="application/yaml")


async def _readiness(request: Request) -> JSONResponse:
    checks = await request.app.state.readiness()
    ready = bool(checks) and all(checks.values())
    body = {"status": "ready" if ready else "not_ready"}
    body.update({name: "up" if ok else "down" for name, ok in checks.items()})
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/ready",
    summary="Readiness: 200 when started and the broker and the store answer, else 503 (no token)",
    responses={
        200: {
            "description": "ready for traffic",
            "content": {
                "application/json": {
                    "example": {"status": "ready", "started": "up", "broker": "up", "store": "up"}
                }
            },
        },
        503: {
            "description": "starting, stopping, or a dependency is unreachable",
            "content": {
                "application/json": {
                    "example": {
                        "status": "not_ready",
                        "started": "up",
                        "broker": "up",
                        "store": "down",
                    }
                }
            },
        },
    },
)
async def ready(request: Request) -> JSONResponse:
    return await _readiness(request)


@router.get(f"{CRM_V2_PATH}/ready", include_in_schema=False)
async def ready_under_gateway(request: Request) -> JSONResponse:
    """The same readiness answer under the gateway path."""
    return await _readiness(request)
