"""What the facade is given by the wiring, and the dependency aliases routes use."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

from http_facade.auth import Principal, authenticate, require_permission
from http_facade.commands import CommandGateway
from http_facade.middleware import AccessLine
from storage.database import Database

BEARER_SCHEME = "bearerAuth"
BEARER_DOC = (
    "An HS256 JWT with `sub`, `tenant`, `permissions` and `exp`. For a dev token: "
    "`crm token --sub u1 --tenant t1 --perm customers.read,customers.write,crm.read,crm.write` "
    "(`make run` prints one with every permission). Paste the token alone, without `Bearer`."
)


@dataclass
class FacadeContext:
    db: Database
    jwt_secret: str
    commands: CommandGateway
    health: Callable[[], Awaitable[dict[str, bool]]]
    asyncapi: dict[str, Any] = field(default_factory=dict)
    max_body_bytes: int = 4 * 1024 * 1024
    rate_limit_per_s: float = 0.0  # per tenant; 0 turns the limiter off
    rate_limit_burst: int = 50
    # Writes each request's access line; None: through `logging` (`middleware.log_access`).
    access_line: AccessLine | None = None


# Dependencies are `async def` on purpose: FastAPI runs plain `def` ones in a thread pool,
# which costs more than the work they do.
async def get_context(request: Request) -> FacadeContext:
    context: FacadeContext = request.app.state.context
    return context


Ctx = Annotated[FacadeContext, Depends(get_context)]


class Requires(SecurityBase):
    """The dependency of every route that needs a token: a valid bearer JWT with one of
    `permissions` (401 / 403 otherwise); it gives the caller. Being a FastAPI security
    scheme, it also puts the bearer scheme on those routes in the OpenAPI (Swagger's
    Authorize), at no cost per request."""

    def __init__(self, *permissions: str) -> None:
        self.permissions = permissions
        self.model = HTTPBearerModel(bearerFormat="JWT", description=BEARER_DOC)
        self.scheme_name = BEARER_SCHEME

    async def __call__(self, request: Request) -> Principal:
        context: FacadeContext = request.app.state.context
        principal = authenticate(request, context.jwt_secret)
        require_permission(principal, *self.permissions)
        return principal


CustomersRead = Annotated[Principal, Depends(Requires("customers.read"))]
CustomersWrite = Annotated[Principal, Depends(Requires("customers.write"))]
CrmRead = Annotated[Principal, Depends(Requires("crm.read"))]
CrmWrite = Annotated[Principal, Depends(Requires("crm.write"))]
AnyRead = Annotated[Principal, Depends(Requires("customers.read", "crm.read"))]
