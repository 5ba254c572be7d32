"""Per request: `X-Request-ID` (echoed, or generated) and `X-Response-Time` (ms) on the
response, the log context (`requestId`, `tenantId`), one access log line (logger
`crm.http.access`: fields `method`, `route`, `status`, `durationMs`), and the Prometheus
count and latency.

An `X-Request-ID` is a command id (`schemas.text`: 1–128 letters, digits, `.`, `_`, `:`,
`-`): it becomes the command id, the idempotency key, and a path segment of the command's
status resource. One that is not is refused with 400 `INVALID_REQUEST_ID` on every route,
never cut short (two long keys that shared their first 128 characters were once one
write), and never echoed: the answer carries a generated id.

One plain ASGI middleware for all four: each layer costs a coroutine and a send wrapper on
every request, and a plain one is cheaper than BaseHTTPMiddleware on the hot read path.
"""

import contextvars
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from http_facade.errors import send_error
from http_facade.metrics import observe_request
from schemas.errors import ErrorCode
from schemas.text import COMMAND_ID_RULE, is_command_id

INVALID_REQUEST_ID = f"X-Request-ID must be {COMMAND_ID_RULE}"
UNMATCHED_ROUTE = "<unmatched>"  # no route answered (404, or a limit refused it before routing)

access_log = logging.getLogger("crm.http.access")

_REQUEST_CONTEXT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "crm_request_context", default=None
)


def request_log_context() -> Mapping[str, str]:
    """`requestId` and (when the token is valid) `tenantId` of the request being served."""
    return _REQUEST_CONTEXT.get() or {}


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/api/v1/crm/customers/{customerId}`), never the
    raw path: path parameter values are put back as `{name}`. Unmatched: `<unmatched>`.
    (Not the route's own `path`: a route of an included router has its path without the
    router's prefix there.)"""
    if scope.get("route") is None:
        return UNMATCHED_ROUTE
    path = str(scope.get("path", ""))
    params = scope.get("path_params") or {}
    if not params:
        return path
    names = {str(value): f"{{{name}}}" for name, value in params.items()}
    return "/".join(names.get(unquote(segment), segment) for segment in path.split("/"))


# What writes a request's access line: (method, route template, status, duration in ms).
AccessLine = Callable[[str, str, int, float], None]


def log_access(method: str, route: str, status: int, duration_ms: float) -> None:
    """The access line through `logging` (the `crm.http.access` logger, INFO)."""
    if access_log.isEnabledFor(logging.INFO):
        # The duration is a field, not part of the message: a message that repeats is
        # redacted once (`crm.logging_setup.Redactor`), not on every request.
        access_log.info(
            "%s %s %d",
            method,
            route,
            status,
            extra={"method": method, "route": route, "status": status, "durationMs": duration_ms},
        )


class RequestTelemetry:
    """Outermost, so requests a limit refuses are timed, logged and counted too.
    `access_line` writes each request's access line (default: `log_access`)."""

    def __init__(self, app: ASGIApp, access_line: AccessLine | None = None) -> None:
        self.app = app
        self.access_line = access_line or log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        refused = given is not None and not is_command_id(given)
        request_id = given if given is not None and not refused else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        token = _REQUEST_CONTEXT.set({"requestId": request_id})
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                elapsed_ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1", "replace")))
                headers.append((b"x-response-time", f"{elapsed_ms:.2f}".encode()))
                message["headers"] = headers
            await send(message)

        try:
            if refused:
                code = ErrorCode.INVALID_REQUEST_ID.value
                await send_error(scope, send_with_headers, 400, code, INVALID_REQUEST_ID)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            elapsed_s = time.perf_counter() - started
            method = str(scope.get("method", ""))
            route = route_template(scope)
            observe_request(method, route, status, elapsed_s)
            self.access_line(method, route, status, round(elapsed_s * 1000, 2))
            _REQUEST_CONTEXT.reset(token)


def note_tenant(tenant_id: str) -> None:
    """Called once a request's token is verified: its log lines then carry the tenant.
    (The context dict is the request's own, shared with this middleware by reference.)"""
    context = _REQUEST_CONTEXT.get()
    if context is not None:
        context["tenantId"] = tenant_id


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").strip() or None
    return None
