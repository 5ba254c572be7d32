"""OpenAPI response documentation shared by the routes (documentation only, no validation)."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from schemas.errors import ErrorCode
from schemas.responses import (
    CommandAccepted,
    CrmApiError,
    ProfileApiError,
    ProfileApiSuccess,
    ProfileCommandAccepted,
)

ResponseDoc = dict[str, Any]


def envelope_doc(what: str) -> ResponseDoc:
    """API A success: `{"success": true, "data": <what>}`."""
    return {
        "description": f'`{{"success": true, "data": ...}}` with {what}',
        "model": ProfileApiSuccess,
        "content": {"application/json": {"example": {"success": True, "data": {}}}},
    }


def _api_a_error(status: int, code: str, message: str) -> ResponseDoc:
    return {
        "description": message,
        "model": ProfileApiError,
        "content": {
            "application/json": {
                "example": {"success": False, "error": {"message": message, "code": code}}
            }
        },
    }


def _api_b_error(status: int, code: str, message: str) -> ResponseDoc:
    return {
        "description": message,
        "model": CrmApiError,
        "content": {
            "application/json": {
                "example": {
                    "code": code,
                    "message": message,
                    "details": "",
                    "requestId": "7d3f0c1e-2b1a-4a55-9d0e-0c0ffee00001",
                }
            }
        },
    }


_ERRORS = (
    (400, ErrorCode.VALIDATION_ERROR.value, "invalid request (validation error or malformed JSON)"),
    (401, ErrorCode.UNAUTHORIZED.value, "missing, invalid or expired bearer token"),
    (
        403,
        ErrorCode.FORBIDDEN.value,
        "missing permission, or X-Tenant-Id is not the token's tenant",
    ),
    (404, ErrorCode.NOT_FOUND.value, "unknown id (or another tenant's)"),
    (409, "CONFLICT", "conflicts with existing data"),
    (413, ErrorCode.PAYLOAD_TOO_LARGE.value, "request body larger than the configured limit"),
    (429, ErrorCode.RATE_LIMITED.value, "too many requests for this tenant (see Retry-After)"),
)
_PENDING = "accepted: the result was not ready within the reply timeout; poll `Location`"

API_A_ERRORS: dict[int | str, ResponseDoc] = {
    202: {"description": _PENDING, "model": ProfileCommandAccepted},
    **{status: _api_a_error(status, code, message) for status, code, message in _ERRORS},
}
API_B_ERRORS: dict[int | str, ResponseDoc] = {
    202: {"description": _PENDING, "model": CommandAccepted},
    **{status: _api_b_error(status, code, message) for status, code, message in _ERRORS},
}


_NOT_JSON = "the request has a body that is not declared JSON (Content-Type: application/json)"


def _unsupported_media_type(path: str) -> ResponseDoc:
    """The 415 of an operation that reads a body, in the envelope of its API family."""
    model = "ProfileApiError" if path.startswith("/api/v1/api/") else "CrmApiError"
    return {
        "description": _NOT_JSON,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
    }


def without_unused_422(app: FastAPI) -> None:
    """FastAPI documents a 422 on every route; validation errors here are 400s. Operations
    that read a body also answer 415 (`http_facade.limits.BodyLimits`)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
                    if "requestBody" in operation:
                        operation["responses"]["415"] = _unsupported_media_type(path)
            components = schema.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
