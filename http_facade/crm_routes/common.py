"""CRM API conventions shared by its routes: required X-Request-ID, paging (and no unknown
query parameter on a paged list), X-User-Id."""

from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from http_facade.errors import ApiError
from schemas.base import Id
from schemas.errors import ErrorCode, ErrorKind
from schemas.text import ID_RULE, MAX_ID_LENGTH

MAX_ID = MAX_ID_LENGTH  # the bound of every id in the command payloads (`schemas.base.Id`)
# A path id is validated (and trimmed) as the command payloads' ids are: one the worker
# would refuse (too long, blank) is a 400 here, never a command it has to dead-letter.
PathId = Annotated[Id, Path()]
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_EXPORT_PAGE_SIZE = 1000


async def require_request_id(
    x_request_id: Annotated[
        str | None,
        Header(description="required on POST/PATCH: the idempotency key (per tenant)"),
    ] = None,
) -> str:
    """POST/PATCH need `X-Request-ID` (400 otherwise); it becomes the command id."""
    if x_request_id is None or not x_request_id.strip():
        raise ApiError(
            ErrorKind.INVALID,
            ErrorCode.REQUEST_ID_REQUIRED.value,
            "X-Request-ID header is required on POST and PATCH",
        )
    return x_request_id.strip()


RequestId = Annotated[str, Depends(require_request_id)]


class Paging:
    def __init__(self, page: int, page_size: int) -> None:
        self.page = page
        self.page_size = page_size

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.page_size

    def response(self, items: list[Any], total: int) -> JSONResponse:
        """`{"items", "total", "page", "pageSize"}`."""
        return JSONResponse(
            {"items": items, "total": total, "page": self.page, "pageSize": self.page_size}
        )


def invalid(message: str) -> ApiError:
    """A 400 `VALIDATION_ERROR` about a query parameter."""
    return ApiError(ErrorKind.INVALID, ErrorCode.VALIDATION_ERROR.value, message, message)


def _query_parameters(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_parameters(dependency)
    return names


def known_query_parameters(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares, its dependencies' included (a walk over a
    few objects: cheaper than a cache keyed by route would be worth)."""
    return frozenset(_query_parameters(route.dependant))


def reject_unknown_query(request: Request) -> None:
    """A paged list answers 400 for a query parameter it does not know: a filter it would
    silently ignore (a typo, a filter of another list) would mislead more than an error."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = known_query_parameters(route)
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in known]
    if unknown:
        raise invalid(
            f"unknown query parameter {unknown[0]!r} (this list takes: {', '.join(sorted(known))})"
        )


def _paging(max_size: int) -> Any:
    async def dependency(
        request: Request,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[
            int, Query(alias="pageSize", ge=1, le=max_size, description=f"1–{max_size}")
        ] = DEFAULT_PAGE_SIZE,
    ) -> Paging:
        reject_unknown_query(request)
        return Paging(page, page_size)

    return dependency


Page = Annotated[Paging, Depends(_paging(MAX_PAGE_SIZE))]
ExportPage = Annotated[Paging, Depends(_paging(MAX_EXPORT_PAGE_SIZE))]


async def acting_user(
    x_user_id: Annotated[
        str | None,
        Header(
            max_length=MAX_ID,
            pattern=r"^[!-~]*$",
            description="the acting user: the default owner of what is created; narrows "
            f"customer lists to that owner ({ID_RULE})",
        ),
    ] = None,
) -> str | None:
    """`X-User-Id`: narrows customer lists to that owner and is the default owner.

    An id like those of the command payloads it ends up in (`ownerId`): one that is not
    (too long, a space, a character outside visible ASCII) is a 400 here, never a poison
    command; an empty one is no X-User-Id.
    """
    return x_user_id.strip() if x_user_id and x_user_id.strip() else None


XUserId = Annotated[str | None, Depends(acting_user)]
