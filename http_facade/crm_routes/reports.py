"""CRM API reports and monitoring: sales funnel, business metrics, health."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from http_facade.context import CrmRead, Ctx
from http_facade.openapi_docs import API_B_ERRORS
from schemas.views import BusinessMetrics, Funnel
from storage import reports

router = APIRouter(tags=["CRM API"])

_FUNNEL_EXAMPLE = {
    "stages": [
        {"stage": "lead", "count": 3, "amount": 30000.0},
        {"stage": "qualified", "count": 2, "amount": 50000.0},
        {"stage": "proposal", "count": 1, "amount": 80000.0},
        {"stage": "negotiation", "count": 0, "amount": 0.0},
        {"stage": "won", "count": 1, "amount": 120000.0},
        {"stage": "lost", "count": 1, "amount": 10000.0},
    ],
    "total": {"count": 8, "amount": 290000.0},
}


@router.get(
    "/reports/funnel",
    summary="销售漏斗: count and amount of live opportunities per stage, in funnel order",
    responses={
        200: {
            "description": "every stage (zeros included) and the total",
            "model": Funnel,
            "content": {"application/json": {"example": _FUNNEL_EXAMPLE}},
        },
        **API_B_ERRORS,
    },
)
async def sales_funnel(ctx: Ctx, principal: CrmRead) -> JSONResponse:
    return JSONResponse(await reports.funnel(ctx.db, principal.tenant_id))


@router.get(
    "/metrics",
    summary="CRM 监控指标: customer and opportunity totals, conversion rate, funnel",
    responses={
        200: {
            "description": "conversionRate = won ÷ all live opportunities (0 when none), 0–1",
            "model": BusinessMetrics,
            "content": {
                "application/json": {
                    "example": {
                        "customerTotal": 42,
                        "opportunityTotal": 8,
                        "conversionRate": 0.125,
                        "funnel": _FUNNEL_EXAMPLE,
                    }
                }
            },
        },
        **API_B_ERRORS,
    },
)
async def business_metrics(ctx: Ctx, principal: CrmRead) -> JSONResponse:
    return JSONResponse(await reports.metrics(ctx.db, principal.tenant_id))


@router.get(
    "/health",
    summary="健康检查: broker and store state (no token)",
    responses={
        200: {"description": '`{"status": "ok", "broker": "up", "store": "up"}`'},
        503: {"description": '`"status": "degraded"`: the broker or the store is `down`'},
    },
)
async def health(ctx: Ctx) -> JSONResponse:
    checks = await ctx.health()
    healthy = all(checks.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "broker": "up" if checks.get("broker") else "down",
        "store": "up" if checks.get("store") else "down",
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
