"""The command-status resource (answers to 202s of both API families) and AsyncAPI."""

import yaml
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from http_facade.context import AnyRead, Ctx
from http_facade.errors import ApiError
from http_facade.openapi_docs import API_B_ERRORS
from schemas.errors import ErrorCode, ErrorKind

router = APIRouter(tags=["system"])


@router.get(
    "/api/v1/crm/commands/{commandId}",
    summary="Command status: the stored result of a command (202 answers point here)",
    responses=API_B_ERRORS,
)
async def command_status(commandId: str, ctx: Ctx, principal: AnyRead) -> JSONResponse:
    result = await ctx.commands.status(principal.tenant_id, commandId)
    if result is None:
        raise ApiError(
            ErrorKind.NOT_FOUND, ErrorCode.COMMAND_NOT_FOUND.value, f"command {commandId} not found"
        )
    return JSONResponse(result.model_dump(mode="json", by_alias=True))


@router.get("/asyncapi.json", summary="AsyncAPI 3.0 document of the Kafka topics (JSON)")
async def asyncapi_json(ctx: Ctx) -> JSONResponse:
    return JSONResponse(ctx.asyncapi)


@router.get("/asyncapi.yaml", summary="AsyncAPI 3.0 document of the Kafka topics (YAML)")
async def asyncapi_yaml(ctx: Ctx) -> Response:
    text = yaml.safe_dump(ctx.asyncapi, sort_keys=False, allow_unicode=True)
    return Response(text, media_type="application/yaml")
