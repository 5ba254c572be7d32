"""Embedded mode only: publish to and read from the in-process broker's topics."""

import json
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from http_facade.context import Ctx
from http_facade.errors import ApiError
from schemas.errors import ErrorCode, ErrorKind

# Not in the OpenAPI contract: these exist only in embedded mode (README "Kafka topics").
router = APIRouter(prefix="/dev/topics", tags=["embedded mode: topics"], include_in_schema=False)


class RawPublish(BaseModel):
    key: str | None = Field(default=None, max_length=1024)
    value: Any = Field(description="a JSON value; a string is sent as its raw UTF-8 bytes")
    headers: dict[str, str] | None = None


def _dev(ctx: Ctx) -> Any:
    if ctx.dev_topics is None:
        raise ApiError(ErrorKind.NOT_FOUND, ErrorCode.NOT_FOUND.value, "not in embedded mode")
    return ctx.dev_topics


@router.post("/{topic}", status_code=202, summary="Publish a raw message as an outside producer")
async def publish(topic: str, body: RawPublish, ctx: Ctx) -> JSONResponse:
    value = body.value.encode() if isinstance(body.value, str) else json.dumps(body.value).encode()
    key = body.key.encode() if body.key is not None else None
    await _dev(ctx).publish_raw(topic, value, key, body.headers or {})
    return JSONResponse({"topic": topic, "published": True}, status_code=202)


@router.get("/{topic}", summary="Messages published on a topic, oldest first")
async def read(
    topic: str,
    ctx: Ctx,
    after: int = Query(-1, ge=-1, description="only offsets greater than this"),
    limit: int = Query(1000, ge=1, le=10000),
) -> JSONResponse:
    return JSONResponse(
        {"topic": topic, "messages": _dev(ctx).messages(topic, after=after, limit=limit)}
    )
