"""The OpenAPI the app serves: response documentation shared by the routes, trimmed per
route to what it can answer, with its permission and tenant rule (documentation only)."""

from typing import Any, get_args

from fastapi import FastAPI
from fastapi.dependencies.utils import get_flat_params
from fastapi.openapi.utils import get_openapi
from fastapi.params import ParamTypes
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from http_facade.context import Requires
from schemas.errors import ErrorCode
from schemas.responses import (
    CommandAccepted,
    CrmApiError,
    ProfileApiError,
    ProfileApiSuccess,
    ProfileCommandAccepted,
)

ResponseDoc = dict[str, Any]


def envelope_doc(what: str, model: type[BaseModel] = ProfileApiSuccess) -> ResponseDoc:
    """Customer profile API success: `{"success": true, "data": <what>}` (`model` names its
    fields)."""
    return {
        "description": f'`{{"success": true, "data": ...}}` with {what}',
        "model": model,
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


API_A_PREFIX = "/api/v1/api/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The error statuses documented per route from what the route is (see `answerable`);
# any other status a route declares (200, 201, 503...) stays as declared.
MANAGED = frozenset({202, 400, 401, 403, 404, 409, 413, 429})
# Body fields that name another entity: a write naming one that does not exist is a 404.
REFERENCES = frozenset({"customerId", "contractId", "opportunityId"})
TENANT_RULE = (
    "**Tenant:** the `X-Tenant-Id` header when sent (it must be the token's `tenant`, "
    "else 403), otherwise the token's `tenant`; another tenant's ids answer 404."
)


def operation_id(route: APIRoute) -> str:
    """The route's function name (`create_customer`), the customer profile API's
    prefixed (`profile_...`): the names a generated client gives its calls."""
    return f"profile_{route.name}" if route.path.startswith(API_A_PREFIX) else route.name


def answerable(route: APIRoute, *, rate_limited: bool) -> set[int]:
    """The error statuses `route` can answer, from what it is:
    400 on every route (a malformed `X-Request-ID`, besides whatever the route validates);
    401/403 where it needs a token (429 too when the per-tenant rate limit is on); 413
    (and 415, added where the body is documented) where it takes a body; 202 (result not
    ready in time) and 409 (a conflict, or an `X-Request-ID` reused for another request)
    where it writes; 404 where it names an
    entity, by a path id or a body field naming another entity (`REFERENCES`)."""
    # Every route: a malformed `X-Request-ID` header is refused before routing
    # (http_facade/middleware.py), whatever the route.
    statuses: set[int] = {400}
    if requirement(route) is not None:
        statuses |= {401, 403}
        if rate_limited:
            statuses.add(429)
    body = route.body_field
    params = get_flat_params(route.dependant)
    path_ids = [p for p in params if getattr(p.field_info, "in_", None) == ParamTypes.path]
    if body is not None:
        statuses.add(413)
    if (route.methods or set()) & WRITE_METHODS:
        statuses |= {202, 409}
    if path_ids or (body is not None and _names_references(body.field_info.annotation)):
        statuses.add(404)
    return statuses


def requirement(route: APIRoute) -> tuple[str, ...] | None:
    """The permissions of the route's token check (one of them is needed), None when it
    needs no token."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, Requires):
            return dependant.call.permissions
        pending += dependant.dependencies
    return None


def _names_references(annotation: Any) -> bool:
    models = [annotation, *get_args(annotation)]
    return any(
        isinstance(model, type)
        and issubclass(model, BaseModel)
        and any((field.alias or name) in REFERENCES for name, field in model.model_fields.items())
        for model in models
    )


def _permission_doc(permissions: tuple[str, ...]) -> str:
    named = " or ".join(f"`{p}`" for p in permissions)
    return f"**Permission:** {named} (a bearer token: Authorize with one from `crm token`)."


def _document(operation: dict[str, Any], path: str, route: APIRoute, rate_limited: bool) -> None:
    """Trim the declared error responses to the route's `answerable` ones and state its
    permission and tenant rule."""
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's validation error: here those are 400s
    statuses = answerable(route, rate_limited=rate_limited)
    family = API_A_ERRORS if path.startswith(API_A_PREFIX) else API_B_ERRORS
    for status in MANAGED:
        if status not in statuses:
            responses.pop(str(status), None)
        elif str(status) not in responses:
            responses[str(status)] = _rendered(family[status])
    if "requestBody" in operation:
        responses["415"] = _unsupported_media_type(path)
    permissions = requirement(route)
    if permissions is not None:
        lines = [operation.get("description", ""), _permission_doc(permissions), TENANT_RULE]
        operation["description"] = "\n\n".join(line for line in lines if line)


def _rendered(doc: ResponseDoc) -> dict[str, Any]:
    """A response doc as FastAPI renders it (its model by reference)."""
    content = {**doc.get("content", {}).get("application/json", {})}
    content["schema"] = {"$ref": f"#/components/schemas/{doc['model'].__name__}"}
    return {"description": doc["description"], "content": {"application/json": content}}


_NOT_JSON = "the request has a body that is not declared JSON (Content-Type: application/json)"


def _unsupported_media_type(path: str) -> ResponseDoc:
    """The 415 of an operation that reads a body, in the envelope of its API family
    (`http_facade.limits.BodyLimits`)."""
    model = "ProfileApiError" if path.startswith(API_A_PREFIX) else "CrmApiError"
    return {
        "description": _NOT_JSON,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
    }


def install_openapi(app: FastAPI, *, rate_limited: bool) -> None:
    """The served OpenAPI: FastAPI's, with each route's error statuses trimmed to those it
    can answer, its permission and tenant rule, and the bearer scheme (from `Requires`) on
    every route that needs a token. FastAPI's unused 422 and its schemas are left out."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            routes = {
                (context.path_format, method.lower()): context.original_route
                for context in iter_route_contexts(app.routes)
                if isinstance(context.original_route, APIRoute) and context.include_in_schema
                for method in context.methods or ()
            }
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    _document(operation, path, routes[(path, method)], rate_limited)
            components = schema.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
