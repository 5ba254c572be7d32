"""Use cases: `async def decide(ctx, db) -> Decision`; no FastStream, no I/O but storage."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handlers.decision import CommandContext, Decision
from schemas.base import CamelModel
from storage.database import Database

Decide = Callable[[CommandContext[Any], Database], Awaitable[Decision]]


@dataclass(frozen=True)
class UseCase:
    """A command type's payload model and the function deciding it."""

    payload_model: type[CamelModel]
    decide: Decide
