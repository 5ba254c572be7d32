"""CRM API contracts: list, detail, create."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from http_facade.context import CrmRead, CrmWrite, Ctx
from http_facade.crm_routes.common import Page, PathId, RequestId
from http_facade.crm_routes.filters import ContractQuery
from http_facade.errors import not_found
from http_facade.openapi_docs import API_B_ERRORS
from http_facade.writes import send_command
from schemas.contracts import CreateContractRequest
from schemas.envelope import CommandType
from schemas.errors import ErrorCode
from schemas.views import ContractPage, ContractRead
from storage.contracts import ContractRepository
from storage.documents import public

router = APIRouter(tags=["CRM API"])


@router.get(
    "/contracts",
    summary="合同列表 (optional customerId; newest first)",
    responses={
        200: {"description": '`{"items", "total", "page", "pageSize"}`', "model": ContractPage},
        **API_B_ERRORS,
    },
)
async def list_contracts(
    ctx: Ctx, principal: CrmRead, page: Page, query: ContractQuery
) -> JSONResponse:
    docs, total = await ContractRepository(ctx.db).search(
        principal.tenant_id, query.conditions, query.sort, skip=page.skip, limit=page.page_size
    )
    return page.response([public(doc) for doc in docs], total)


@router.get(
    "/contracts/{contract_id}",
    summary="合同详情 (with paidAmount, the total of its payments)",
    responses={200: {"description": "the contract", "model": ContractRead}, **API_B_ERRORS},
)
async def get_contract(contract_id: PathId, ctx: Ctx, principal: CrmRead) -> JSONResponse:
    doc = await ContractRepository(ctx.db).get(principal.tenant_id, contract_id)
    if doc is None:
        raise not_found(ErrorCode.CONTRACT_NOT_FOUND, "contract", contract_id)
    return JSONResponse(public(doc))


@router.post(
    "/contracts",
    summary="创建合同 (idempotent; duplicate contractNo → 409 合同编号已存在)",
    status_code=201,
    responses={201: {"description": "the created contract", "model": ContractRead}, **API_B_ERRORS},
)
async def create_contract(
    body: CreateContractRequest,
    request: Request,
    ctx: Ctx,
    principal: CrmWrite,
    _request_id: RequestId,
) -> JSONResponse:
    result = await send_command(
        request,
        ctx,
        principal,
        CommandType.CONTRACT_CREATE,
        body.wire(),
        customer_id=body.customer_id,
    )
    return JSONResponse(result.data, status_code=201)
