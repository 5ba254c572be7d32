"""Parked integration events: inbound events whose customer is not known yet
(docs/architecture.md, "Integration events").

They are applied automatically when what they wait for appears (see
`handlers.integration_events`); this list lets an operator see what is waiting and why.
"""

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from http_facade.context import CrmRead, Ctx
from http_facade.crm_routes.common import Page
from http_facade.masking import mask_phones
from http_facade.openapi_docs import API_B_ERRORS
from schemas.integration_events import ParkedEventPage
from storage.database import Document
from storage.documents import public
from storage.parked_events import ParkedEventRepository

router = APIRouter(prefix="/api/v1/crm/integration-events", tags=["integration events"])
LIST_ERRORS: dict[int | str, Any] = {status: API_B_ERRORS[status] for status in (400, 401, 403)}


def _view(doc: Document, sees_pii: bool) -> dict[str, Any]:
    view = public(doc)
    event = json.loads(doc["_raw"])
    view["event"] = event if sees_pii else mask_phones(event)
    return view


@router.get(
    "/parked",
    summary="Parked integration events of the caller's tenant, oldest first",
    description=(
        "Inbound events whose customer could not be resolved (`reason`: unknown_customer, "
        "unknown_identity, no_match, ambiguous_match). Each is applied automatically, and "
        "leaves this list, once its identity is bound or its customer appears."
    ),
    responses={200: {"model": ParkedEventPage}, **LIST_ERRORS},
)
async def list_parked(ctx: Ctx, principal: CrmRead, paging: Page) -> JSONResponse:
    docs, total = await ParkedEventRepository(ctx.db).page(
        principal.tenant_id, skip=paging.skip, limit=paging.page_size
    )
    return paging.response([_view(doc, principal.sees_pii) for doc in docs], total)
