"""The FastAPI application: both API families, system routes, and embedded dev routes."""

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from http_facade import customer_profile_routes, integration_routes, metrics, system_routes
from http_facade.commands import CommandPending, command_status_path
from http_facade.context import FacadeContext
from http_facade.crm_routes import ROUTERS as CRM_V2_ROUTERS
from http_facade.errors import install_error_handlers, is_api_a
from http_facade.limits import BodyLimits, TenantRateLimit
from http_facade.middleware import RequestTelemetry
from http_facade.openapi_docs import install_openapi, operation_id

CRM_V2_PREFIX = "/api/v1/crm"
DESCRIPTION = """\
Async, message-driven CRM backend. Writes are commands published on Kafka and applied by
the worker; reads come straight from MongoDB.

* **Customer profile API** at `/api/v1/api/customers` (envelope `{"success", "data"|"error"}`).
* **CRM API** at `/api/v1/crm`, plain JSON; errors
  `{"code","message","details","requestId"}`.
  The same routes also answer at the root path (direct "cell" access on port 8001).

Authentication: `Authorization: Bearer <HS256 JWT>` with `sub`, `tenant`, `permissions`, `exp`
(**Authorize** above takes one from `crm token`). Each route names the permission it needs.
"""


async def _on_pending(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CommandPending)
    location = command_status_path(exc.command_id)
    pending = {"commandId": exc.command_id, "status": "pending", "location": location}
    body = {"success": True, "data": pending} if is_api_a(request) else pending
    return JSONResponse(body, status_code=202, headers={"Location": location})


def create_app(
    context: FacadeContext,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
    readiness: Callable[[], Awaitable[dict[str, bool]]] | None = None,
) -> FastAPI:
    """The app. `readiness` answers `/ready` (default: the health checks of the context).

    `/docs` (Swagger UI) and `/redoc` load their scripts and styles from this service
    (`/static-offline-docs/`, the assets shipped in the `fastapi-offline` wheel), not from
    a CDN: they work on a machine without internet."""
    app = FastAPIOffline(
        title="CRM worker service",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # no badge fetched from the public validator (nothing leaves this service); a token
        # given to Authorize survives a reload of the page
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        generate_unique_id_function=operation_id,
    )
    app.state.context = context
    app.state.readiness = readiness or context.health
    install_error_handlers(app)
    app.add_exception_handler(CommandPending, _on_pending)
    if context.rate_limit_per_s > 0:
        app.add_middleware(
            TenantRateLimit,
            per_second=context.rate_limit_per_s,
            burst=context.rate_limit_burst,
            secret=context.jwt_secret,
        )
    app.add_middleware(BodyLimits, max_bytes=context.max_body_bytes)
    # outermost: refused requests are counted too
    app.add_middleware(RequestTelemetry, access_line=context.access_line)
    # FastAPI tries routes one by one, in this order, at a few µs each: the API reads and
    # writes come first, probes last, and the documentation routes FastAPI put first (the
    # OpenAPI document, Swagger UI, ReDoc, their assets) after all of them: GET customer
    # detail took 127 instead of 133 µs in-process. No two routes here match the same
    # request (tests/api/test_route_order.py checks it), so the order changes no answer.
    documentation = list(app.router.routes)
    app.router.routes.clear()
    app.include_router(customer_profile_routes.router)
    for router in CRM_V2_ROUTERS:
        app.include_router(router, prefix=CRM_V2_PREFIX)
    for router in CRM_V2_ROUTERS:
        app.include_router(router, include_in_schema=False)  # the direct "cell" paths
    app.include_router(integration_routes.router)
    app.include_router(system_routes.router)
    app.include_router(metrics.router)
    app.router.routes.extend(documentation)
    install_openapi(app, rate_limited=context.rate_limit_per_s > 0)
    return app
