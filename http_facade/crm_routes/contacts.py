"""CRM API contacts: list (optionally of one customer), detail, create, update, soft delete.

Writes are `contact.*` commands keyed by the contact's customer, so one customer's contact
commands stay ordered (the one-primary-contact rule relies on it).
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from http_facade.auth import Principal
from http_facade.context import Ctx, CustomersRead, CustomersWrite
from http_facade.crm_routes.common import Page, PathId, RequestId
from http_facade.crm_routes.filters import ContactQuery
from http_facade.errors import not_found
from http_facade.masking import masked
from http_facade.openapi_docs import API_B_ERRORS
from http_facade.writes import send_command
from schemas.contacts import CreateContactRequest, UpdateContactRequest
from schemas.envelope import CommandType
from schemas.errors import ErrorCode
from schemas.views import ContactPage, ContactRead, Deleted
from storage.contacts import ContactRepository
from storage.database import Document
from storage.documents import public

router = APIRouter(tags=["CRM API"])

ContactId = PathId
PAGE_DOC = '`{"items", "total", "page", "pageSize"}`, newest first'


async def _owning_customer(
    request: Request, ctx: Ctx, principal: Principal, contact_id: str
) -> str | None:
    """The customer of the contact a write is about (its Kafka key), or 404.

    A repeat of a request that already ran (same X-Request-ID) goes on to the gateway even
    when the contact is gone since, so that it answers the first result, not a 404.
    """
    doc = await ContactRepository(ctx.db).get(principal.tenant_id, contact_id)
    if doc is not None:
        return str(doc["customerId"])
    if await ctx.commands.status(principal.tenant_id, request.state.request_id) is None:
        raise not_found(ErrorCode.CONTACT_NOT_FOUND, "contact", contact_id)
    return None


@router.get(
    "/contacts",
    summary="联系人列表（可选 customerId）",
    responses={200: {"description": PAGE_DOC, "model": ContactPage}, **API_B_ERRORS},
)
async def list_contacts(
    ctx: Ctx,
    principal: CustomersRead,
    paging: Page,
    query: ContactQuery,
) -> JSONResponse:
    docs, total = await ContactRepository(ctx.db).search(
        principal.tenant_id, query.conditions, query.sort, skip=paging.skip, limit=paging.page_size
    )
    return paging.response([_view(doc, principal) for doc in docs], total)


def _view(doc: Document, principal: Principal) -> dict[str, object]:
    return masked(public(doc), principal.sees_pii)


@router.get(
    "/contacts/{contact_id}",
    summary="联系人详情（手机号脱敏）",
    responses={200: {"description": "the contact", "model": ContactRead}, **API_B_ERRORS},
)
async def get_contact(contact_id: ContactId, ctx: Ctx, principal: CustomersRead) -> JSONResponse:
    doc = await ContactRepository(ctx.db).get(principal.tenant_id, contact_id)
    if doc is None:
        raise not_found(ErrorCode.CONTACT_NOT_FOUND, "contact", contact_id)
    return JSONResponse(_view(doc, principal))


@router.post(
    "/contacts",
    summary="创建联系人（幂等；the customer must exist）",
    status_code=201,
    responses={
        201: {"description": "the created contact, with its id", "model": ContactRead},
        **API_B_ERRORS,
    },
)
async def create_contact(
    body: CreateContactRequest,
    request: Request,
    ctx: Ctx,
    principal: CustomersWrite,
    _request_id: RequestId,
) -> JSONResponse:
    result = await send_command(
        request,
        ctx,
        principal,
        CommandType.CONTACT_CREATE,
        body.wire(),
        customer_id=body.customer_id,
    )
    return JSONResponse(masked(result.data, principal.sees_pii), status_code=201)


@router.patch(
    "/contacts/{contact_id}",
    summary="更新联系人（only the fields present change）",
    responses={200: {"description": "the updated contact", "model": ContactRead}, **API_B_ERRORS},
)
async def update_contact(
    contact_id: ContactId,
    body: UpdateContactRequest,
    request: Request,
    ctx: Ctx,
    principal: CustomersWrite,
    _request_id: RequestId,
) -> JSONResponse:
    customer_id = await _owning_customer(request, ctx, principal, contact_id)
    payload = {**body.wire(), "contactId": contact_id}
    result = await send_command(
        request, ctx, principal, CommandType.CONTACT_UPDATE, payload, customer_id=customer_id
    )
    return JSONResponse(masked(result.data, principal.sees_pii))


@router.delete(
    "/contacts/{contact_id}",
    summary="删除联系人 (soft delete)",
    responses={
        200: {"description": '`{"id": ..., "deleted": true}`', "model": Deleted},
        **API_B_ERRORS,
    },
)
async def delete_contact(
    contact_id: ContactId, request: Request, ctx: Ctx, principal: CustomersWrite
) -> JSONResponse:
    customer_id = await _owning_customer(request, ctx, principal, contact_id)
    result = await send_command(
        request,
        ctx,
        principal,
        CommandType.CONTACT_DELETE,
        {"contactId": contact_id},
        customer_id=customer_id,
    )
    return JSONResponse(result.data)
