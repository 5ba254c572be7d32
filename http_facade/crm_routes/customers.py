"""CRM API customers: list, detail, create, update, soft delete, import and export.

The customers are the same documents the customer profile API serves. Reads come straight
from the store; writes are `customer.*` commands (`http_facade.writes.send_command`).
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from http_facade.auth import Principal
from http_facade.context import Ctx, CustomersRead, CustomersWrite
from http_facade.crm_routes.common import ExportPage, Page, Paging, PathId, RequestId, XUserId
from http_facade.crm_routes.filters import CustomerQuery, ListQuery
from http_facade.errors import not_found
from http_facade.masking import masked
from http_facade.openapi_docs import API_B_ERRORS
from http_facade.writes import send_command
from schemas.crm_customers import (
    CreateCustomerRequest,
    ImportCustomersRequest,
    UpdateCustomerRequest,
)
from schemas.envelope import CommandType
from schemas.errors import ErrorCode
from schemas.views import CustomerPage, CustomerRead, Deleted, ImportResult
from storage.customers import CustomerRepository, customer_view

router = APIRouter(tags=["CRM API"])

CustomerId = PathId

PAGE_DOC = '`{"items", "total", "page", "pageSize"}`, newest first'
DELETED_DOC = '`{"id": ..., "deleted": true}`'
IMPORT_DOC = (
    '`{"total", "created", "duplicate", "invalid", "items": [{"index", "status", "id"?, '
    '"error"?}]}`'
)


async def _page(ctx: Ctx, principal: Principal, paging: Paging, query: ListQuery) -> JSONResponse:
    docs, total = await CustomerRepository(ctx.db).search(
        principal.tenant_id, query.conditions, query.sort, skip=paging.skip, limit=paging.page_size
    )
    return paging.response([masked(customer_view(doc), principal.sees_pii) for doc in docs], total)


@router.get(
    "/customers",
    summary="客户列表 (X-User-Id: only that owner's customers)",
    responses={200: {"description": PAGE_DOC, "model": CustomerPage}, **API_B_ERRORS},
)
async def list_customers(
    ctx: Ctx, principal: CustomersRead, paging: Page, query: CustomerQuery
) -> JSONResponse:
    return await _page(ctx, principal, paging, query)


@router.post(
    "/customers/import",
    summary="批量导入客户 (1–2000 items; per-item created | duplicate | invalid)",
    responses={200: {"description": IMPORT_DOC, "model": ImportResult}, **API_B_ERRORS},
)
async def import_customers(
    body: ImportCustomersRequest,
    request: Request,
    ctx: Ctx,
    principal: CustomersWrite,
    _request_id: RequestId,
    user_id: XUserId,
) -> JSONResponse:
    items: list[Any] = body.items
    if user_id is not None:  # X-User-Id is the default owner, as for POST /customers
        items = [_with_owner(item, user_id) for item in items]
    result = await send_command(
        request, ctx, principal, CommandType.CUSTOMER_IMPORT, {"items": items}
    )
    return JSONResponse(result.data)


def _with_owner(item: Any, owner_id: str) -> Any:
    if isinstance(item, dict) and item.get("ownerId") is None:
        return {**item, "ownerId": owner_id}
    return item


@router.get(
    "/customers/export",
    summary="导出客户 (paged; pageSize up to 1000)",
    responses={200: {"description": PAGE_DOC, "model": CustomerPage}, **API_B_ERRORS},
)
async def export_customers(
    ctx: Ctx, principal: CustomersRead, paging: ExportPage, query: CustomerQuery
) -> JSONResponse:
    return await _page(ctx, principal, paging, query)


@router.get(
    "/customers/{customer_id}",
    summary="客户详情（手机号脱敏）",
    responses={200: {"description": "the customer", "model": CustomerRead}, **API_B_ERRORS},
)
async def get_customer(customer_id: CustomerId, ctx: Ctx, principal: CustomersRead) -> JSONResponse:
    doc = await CustomerRepository(ctx.db).get(principal.tenant_id, customer_id)
    if doc is None:
        raise not_found(ErrorCode.CUSTOMER_NOT_FOUND, "customer", customer_id)
    return JSONResponse(masked(customer_view(doc), principal.sees_pii))


@router.post(
    "/customers",
    summary="创建客户（幂等；重复名称返回「客户名称已存在」）",
    status_code=201,
    responses={
        201: {"description": "the created customer, with its id", "model": CustomerRead},
        **API_B_ERRORS,
    },
)
async def create_customer(
    body: CreateCustomerRequest,
    request: Request,
    ctx: Ctx,
    principal: CustomersWrite,
    _request_id: RequestId,
    user_id: XUserId,
) -> JSONResponse:
    payload = body.wire()
    if payload.get("ownerId") is None:
        payload["ownerId"] = user_id or principal.user_id
    result = await send_command(request, ctx, principal, CommandType.CUSTOMER_CREATE, payload)
    return JSONResponse(masked(result.data, principal.sees_pii), status_code=201)


@router.patch(
    "/customers/{customer_id}",
    summary="更新客户（only the fields present change）",
    responses={200: {"description": "the updated customer", "model": CustomerRead}, **API_B_ERRORS},
)
async def update_customer(
    customer_id: CustomerId,
    body: UpdateCustomerRequest,
    request: Request,
    ctx: Ctx,
    principal: CustomersWrite,
    _request_id: RequestId,
) -> JSONResponse:
    payload = {**body.wire(), "customerId": customer_id}
    result = await send_command(
        request, ctx, principal, CommandType.CUSTOMER_UPDATE, payload, customer_id=customer_id
    )
    return JSONResponse(masked(result.data, principal.sees_pii))


@router.delete(
    "/customers/{customer_id}",
    summary="删除客户 (soft delete: then 404, and the name is free again)",
    responses={200: {"description": DELETED_DOC, "model": Deleted}, **API_B_ERRORS},
)
async def delete_customer(
    customer_id: CustomerId, request: Request, ctx: Ctx, principal: CustomersWrite
) -> JSONResponse:
    result = await send_command(
        request,
        ctx,
        principal,
        CommandType.CUSTOMER_DELETE,
        {"customerId": customer_id},
        customer_id=customer_id,
    )
    return JSONResponse(result.data)
