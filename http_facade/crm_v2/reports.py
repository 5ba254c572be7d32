"""API B reports and monitoring: funnel and metrics (not built yet), health."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from http_facade.context import Ctx

router = APIRouter(tags=["API B — CRM v2"])


@router.get("/health", summary="健康检查: broker and store state (no token)")
async def health(ctx: Ctx) -> JSONResponse:
    checks = await ctx.health()
    healthy = all(checks.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "broker": "up" if checks.get("broker") else "down",
        "store": "up" if checks.get("store") else "down",
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
