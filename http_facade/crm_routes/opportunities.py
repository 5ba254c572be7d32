"""CRM API opportunities: list, detail, create, update, delete."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from http_facade.context import CrmRead, CrmWrite, Ctx
from http_facade.crm_routes.common import Page, PathId, RequestId, XUserId
from http_facade.crm_routes.filters import OpportunityQuery
from http_facade.errors import not_found
from http_facade.openapi_docs import API_B_ERRORS
from http_facade.writes import send_command
from schemas.envelope import CommandType
from schemas.errors import ErrorCode
from schemas.opportunities import CreateOpportunityRequest, UpdateOpportunityRequest
from schemas.views import Deleted, OpportunityPage, OpportunityRead
from storage.documents import public
from storage.opportunities import OpportunityRepository

router = APIRouter(tags=["CRM API"])


async def _owning_customer(ctx: Ctx, tenant_id: str, opportunity_id: str) -> str:
    """The customer keying the command (404 for an id this tenant never had)."""
    customer_id = await OpportunityRepository(ctx.db).customer_of(tenant_id, opportunity_id)
    if customer_id is None:
        raise not_found(ErrorCode.OPPORTUNITY_NOT_FOUND, "opportunity", opportunity_id)
    return customer_id


@router.get(
    "/opportunities",
    summary="商机列表 (optional customerId; newest first)",
    responses={
        200: {"description": '`{"items", "total", "page", "pageSize"}`', "model": OpportunityPage},
        **API_B_ERRORS,
    },
)
async def list_opportunities(
    ctx: Ctx, principal: CrmRead, page: Page, query: OpportunityQuery
) -> JSONResponse:
    docs, total = await OpportunityRepository(ctx.db).search(
        principal.tenant_id, query.conditions, query.sort, skip=page.skip, limit=page.page_size
    )
    return page.response([public(doc) for doc in docs], total)


@router.get(
    "/opportunities/{opportunity_id}",
    summary="商机详情",
    responses={200: {"description": "the opportunity", "model": OpportunityRead}, **API_B_ERRORS},
)
async def get_opportunity(opportunity_id: PathId, ctx: Ctx, principal: CrmRead) -> JSONResponse:
    doc = await OpportunityRepository(ctx.db).get(principal.tenant_id, opportunity_id)
    if doc is None:
        raise not_found(ErrorCode.OPPORTUNITY_NOT_FOUND, "opportunity", opportunity_id)
    return JSONResponse(public(doc))


@router.post(
    "/opportunities",
    summary="创建商机 (idempotent by X-Request-ID; unknown customer → 404)",
    status_code=201,
    responses={
        201: {"description": "the created opportunity", "model": OpportunityRead},
        **API_B_ERRORS,
    },
)
async def create_opportunity(
    body: CreateOpportunityRequest,
    request: Request,
    ctx: Ctx,
    principal: CrmWrite,
    _request_id: RequestId,
    user_id: XUserId,
) -> JSONResponse:
    payload = body.wire()
    payload.setdefault("ownerId", user_id or principal.user_id)
    result = await send_command(
        request,
        ctx,
        principal,
        CommandType.OPPORTUNITY_CREATE,
        payload,
        customer_id=body.customer_id,
    )
    return JSONResponse(result.data, status_code=201)


@router.patch(
    "/opportunities/{opportunity_id}",
    summary="更新商机 (only the fields present change)",
    responses={
        200: {"description": "the updated opportunity", "model": OpportunityRead},
        **API_B_ERRORS,
    },
)
async def update_opportunity(
    opportunity_id: PathId,
    body: UpdateOpportunityRequest,
    request: Request,
    ctx: Ctx,
    principal: CrmWrite,
    _request_id: RequestId,
) -> JSONResponse:
    customer_id = await _owning_customer(ctx, principal.tenant_id, opportunity_id)
    payload = {**body.wire(), "opportunityId": opportunity_id}
    result = await send_command(
        request, ctx, principal, CommandType.OPPORTUNITY_UPDATE, payload, customer_id=customer_id
    )
    return JSONResponse(result.data)


@router.delete(
    "/opportunities/{opportunity_id}",
    summary="删除商机 (soft delete; reports stop counting it)",
    responses={200: {"description": '`{"id", "deleted": true}`', "model": Deleted}, **API_B_ERRORS},
)
async def delete_opportunity(
    opportunity_id: PathId, request: Request, ctx: Ctx, principal: CrmWrite
) -> JSONResponse:
    customer_id = await _owning_customer(ctx, principal.tenant_id, opportunity_id)
    result = await send_command(
        request,
        ctx,
        principal,
        CommandType.OPPORTUNITY_DELETE,
        {"opportunityId": opportunity_id},
        customer_id=customer_id,
    )
    return JSONResponse(result.data)
