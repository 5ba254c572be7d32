"""Errors at the HTTP edge: one kind → one status, rendered in each API family's envelope.

the customer profile API (`/api/v1/api/...`): `{"success": false, "error": {"message", "code"}}`.
Everything else (the CRM API, both at `/api/v1/crm` and at the root): `{"code", "message",
"details", "requestId"}`. FastAPI's 422 and default bodies never reach a client.
"""

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from schemas.errors import ErrorCode, ErrorKind

log = logging.getLogger("crm.http")

API_A_PREFIX = "/api/v1/api/"

STATUS_OF_KIND = {
    ErrorKind.INVALID: 400,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.INTERNAL: 500,
}
CODE_OF_STATUS = {
    400: "BAD_REQUEST",
    401: ErrorCode.UNAUTHORIZED.value,
    403: ErrorCode.FORBIDDEN.value,
    404: ErrorCode.NOT_FOUND.value,
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: ErrorCode.PAYLOAD_TOO_LARGE.value,
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    503: ErrorCode.SERVICE_UNAVAILABLE.value,
}


class ApiError(Exception):
    """An error answer: raise it anywhere below a route."""

    def __init__(
        self,
        kind: ErrorKind,
        code: str,
        message: str,
        details: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = STATUS_OF_KIND[kind]
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def not_found(code: ErrorCode, what: str, entity_id: str) -> ApiError:
    """404 `code`: "<what> <id> not found" (the same message on every route)."""
    return ApiError(ErrorKind.NOT_FOUND, code.value, f"{what} {entity_id} not found")


def is_api_a(request: Request) -> bool:
    return request.url.path.startswith(API_A_PREFIX)


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or request.headers.get("x-request-id", ""))


def error_body(
    path: str, request_id: str, code: str, message: str, details: str = ""
) -> dict[str, Any]:
    """The error document of the API family that owns `path`."""
    if path.startswith(API_A_PREFIX):
        return {"success": False, "error": {"message": message, "code": code}}
    return {"code": code, "message": message, "details": details, "requestId": request_id}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: str = "",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = error_body(request.url.path, request_id_of(request), code, message, details)
    return JSONResponse(body, status_code=status, headers=headers)


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    """An error answer from an ASGI middleware, before any route runs, in the envelope of
    the path's API family."""
    request_id = str(scope.get("state", {}).get("request_id", ""))
    body = json.dumps(
        error_body(scope["path"], request_id, code, message), ensure_ascii=False
    ).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def _describe(errors: list[Any]) -> str:
    parts = []
    for error in errors[:10]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(
            request, 400, ErrorCode.MALFORMED_JSON.value, "request body is not valid JSON"
        )
    details = _describe(errors)
    return error_response(
        request, 400, ErrorCode.VALIDATION_ERROR.value, f"invalid request: {details}", details
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_OF_STATUS.get(exc.status_code, f"HTTP_{exc.status_code}")
    message = str(exc.detail) if exc.detail else code
    headers = dict(exc.headers) if exc.headers else None
    return error_response(request, exc.status_code, code, message, headers=headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "INTERNAL_ERROR", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
