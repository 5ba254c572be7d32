"""CRM API payments (回款): list, record."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from http_facade.context import CrmRead, CrmWrite, Ctx
from http_facade.crm_routes.common import Page, RequestId
from http_facade.crm_routes.filters import PaymentQuery
from http_facade.errors import not_found
from http_facade.openapi_docs import API_B_ERRORS
from http_facade.writes import send_command
from schemas.envelope import CommandType
from schemas.errors import ErrorCode
from schemas.payments import CreatePaymentRequest
from schemas.views import PaymentPage, PaymentRead
from storage.contracts import ContractRepository
from storage.documents import public
from storage.payments import PaymentRepository

router = APIRouter(tags=["CRM API"])


@router.get(
    "/payments",
    summary="回款列表 (optional contractId; newest first)",
    responses={
        200: {"description": '`{"items", "total", "page", "pageSize"}`', "model": PaymentPage},
        **API_B_ERRORS,
    },
)
async def list_payments(
    ctx: Ctx, principal: CrmRead, page: Page, query: PaymentQuery
) -> JSONResponse:
    docs, total = await PaymentRepository(ctx.db).search(
        principal.tenant_id, query.conditions, query.sort, skip=page.skip, limit=page.page_size
    )
    return page.response([public(doc) for doc in docs], total)


@router.post(
    "/payments",
    summary="登记回款 (idempotent; contractId required; total ≤ contract amount, else 409)",
    status_code=201,
    responses={201: {"description": "the recorded payment", "model": PaymentRead}, **API_B_ERRORS},
)
async def create_payment(
    body: CreatePaymentRequest,
    request: Request,
    ctx: Ctx,
    principal: CrmWrite,
    _request_id: RequestId,
) -> JSONResponse:
    # Keyed by the contract's customer: that customer's commands are decided one at a
    # time, which keeps the "never beyond the contract amount" check race-free.
    contract = await ContractRepository(ctx.db).get(principal.tenant_id, body.contract_id)
    if contract is None:
        raise not_found(ErrorCode.CONTRACT_NOT_FOUND, "contract", body.contract_id)
    result = await send_command(
        request,
        ctx,
        principal,
        CommandType.PAYMENT_CREATE,
        body.wire(),
        customer_id=contract["customerId"],
    )
    return JSONResponse(result.data, status_code=201)
