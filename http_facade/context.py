"""What the facade is given by the wiring, and the dependency aliases routes use."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from http_facade.auth import Principal, authenticate, require_permission
from http_facade.commands import CommandGateway
from storage.database import Database


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


# Dependencies are `async def` on purpose: FastAPI runs plain `def` ones in a thread pool,
# which costs more than the work they do.
async def get_context(request: Request) -> FacadeContext:
    context: FacadeContext = request.app.state.context
    return context


Ctx = Annotated[FacadeContext, Depends(get_context)]


def _requires(*permissions: str) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        context: FacadeContext = request.app.state.context
        principal = authenticate(request, context.jwt_secret)
        require_permission(principal, *permissions)
        return principal

    return dependency


CustomersRead = Annotated[Principal, Depends(_requires("customers.read"))]
CustomersWrite = Annotated[Principal, Depends(_requires("customers.write"))]
CrmRead = Annotated[Principal, Depends(_requires("crm.read"))]
CrmWrite = Annotated[Principal, Depends(_requires("crm.write"))]
AnyRead = Annotated[Principal, Depends(_requires("customers.read", "crm.read"))]
