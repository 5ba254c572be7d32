"""CRM API follow-up records: list, detail, create, update, delete."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from http_facade.context import CrmRead, CrmWrite, Ctx
from http_facade.crm_routes.common import Page, PathId, RequestId
from http_facade.crm_routes.filters import FollowUpQuery
from http_facade.errors import not_found
from http_facade.openapi_docs import API_B_ERRORS
from http_facade.writes import send_command
from schemas.envelope import CommandType
from schemas.errors import ErrorCode
from schemas.follow_ups import CreateFollowUpRequest, UpdateFollowUpRequest
from schemas.views import Deleted, FollowUpPage, FollowUpRead
from storage.documents import public
from storage.follow_ups import FollowUpRepository

router = APIRouter(tags=["CRM API"])

OpportunityFilter = Annotated[
    str | None,
    Query(alias="opportunityId", max_length=128, description="only this opportunity's"),
]


async def _owning_customer(ctx: Ctx, tenant_id: str, follow_up_id: str) -> str:
    """The customer keying the command (404 for an id this tenant never had)."""
    customer_id = await FollowUpRepository(ctx.db).customer_of(tenant_id, follow_up_id)
    if customer_id is None:
        raise not_found(ErrorCode.FOLLOW_UP_NOT_FOUND, "follow-up", follow_up_id)
    return customer_id


@router.get(
    "/follow-ups",
    summary="跟进记录列表 (optional customerId, opportunityId; newest first)",
    responses={
        200: {"description": '`{"items", "total", "page", "pageSize"}`', "model": FollowUpPage},
        **API_B_ERRORS,
    },
)
async def list_follow_ups(
    ctx: Ctx,
    principal: CrmRead,
    page: Page,
    query: FollowUpQuery,
) -> JSONResponse:
    docs, total = await FollowUpRepository(ctx.db).search(
        principal.tenant_id, query.conditions, query.sort, skip=page.skip, limit=page.page_size
    )
    return page.response([public(doc) for doc in docs], total)


@router.get(
    "/follow-ups/{follow_up_id}",
    summary="跟进记录详情",
    responses={200: {"description": "the follow-up", "model": FollowUpRead}, **API_B_ERRORS},
)
async def get_follow_up(follow_up_id: PathId, ctx: Ctx, principal: CrmRead) -> JSONResponse:
    doc = await FollowUpRepository(ctx.db).get(principal.tenant_id, follow_up_id)
    if doc is None:
        raise not_found(ErrorCode.FOLLOW_UP_NOT_FOUND, "follow-up", follow_up_id)
    return JSONResponse(public(doc))


@router.post(
    "/follow-ups",
    summary="创建跟进记录 (idempotent by X-Request-ID, safe to retry)",
    status_code=201,
    responses={
        201: {"description": "the created follow-up", "model": FollowUpRead},
        **API_B_ERRORS,
    },
)
async def create_follow_up(
    body: CreateFollowUpRequest,
    request: Request,
    ctx: Ctx,
    principal: CrmWrite,
    _request_id: RequestId,
) -> JSONResponse:
    result = await send_command(
        request,
        ctx,
        principal,
        CommandType.FOLLOW_UP_CREATE,
        body.wire(),
        customer_id=body.customer_id,
    )
    return JSONResponse(result.data, status_code=201)


@router.patch(
    "/follow-ups/{follow_up_id}",
    summary="更新跟进记录 (only the fields present change)",
    responses={
        200: {"description": "the updated follow-up", "model": FollowUpRead},
        **API_B_ERRORS,
    },
)
async def update_follow_up(
    follow_up_id: PathId,
    body: UpdateFollowUpRequest,
    request: Request,
    ctx: Ctx,
    principal: CrmWrite,
    _request_id: RequestId,
) -> JSONResponse:
    customer_id = await _owning_customer(ctx, principal.tenant_id, follow_up_id)
    payload = {**body.wire(), "followUpId": follow_up_id}
    result = await send_command(
        request, ctx, principal, CommandType.FOLLOW_UP_UPDATE, payload, customer_id=customer_id
    )
    return JSONResponse(result.data)


@router.delete(
    "/follow-ups/{follow_up_id}",
    summary="删除跟进记录 (soft delete)",
    responses={200: {"description": '`{"id", "deleted": true}`', "model": Deleted}, **API_B_ERRORS},
)
async def delete_follow_up(
    follow_up_id: PathId, request: Request, ctx: Ctx, principal: CrmWrite
) -> JSONResponse:
    customer_id = await _owning_customer(ctx, principal.tenant_id, follow_up_id)
    result = await send_command(
        request,
        ctx,
        principal,
        CommandType.FOLLOW_UP_DELETE,
        {"followUpId": follow_up_id},
        customer_id=customer_id,
    )
    return JSONResponse(result.data)
