"""The facade alone, without a broker or a worker: for rules the facade enforces before any
command is sent, and for reads of results a test decides in-process.

A write that passes every check is published to `published` (nobody consumes it) and,
with nothing deciding it, answered 202 after a short wait.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from handlers.pipeline import CommandProcessor
from http_facade.app import create_app
from http_facade.commands import CommandGateway
from http_facade.context import FacadeContext
from schemas.envelope import CommandEnvelope, CommandResult
from storage.database import Database
from tests.helpers import TEST_SECRET, indexed_memory_db


@dataclass
class FacadeOnly:
    http: httpx.AsyncClient
    db: Database
    published: list[dict[str, Any]] = field(default_factory=list)

    async def decide(self, envelope: CommandEnvelope) -> CommandResult:
        """What the worker would do with this command (in-process, on the facade's store)."""
        return await CommandProcessor(self.db).process(envelope)


@contextlib.asynccontextmanager
async def facade_only(**limits: Any) -> AsyncIterator[FacadeOnly]:
    """`limits`: FacadeContext's `max_body_bytes`, `rate_limit_per_s`, `rate_limit_burst`."""
    db = await indexed_memory_db()
    published: list[dict[str, Any]] = []

    async def publish(envelope: dict[str, Any], key: bytes) -> None:
        published.append(envelope)

    async def health() -> dict[str, bool]:
        return {"broker": True, "store": True}

    context = FacadeContext(
        db=db,
        jwt_secret=TEST_SECRET,
        commands=CommandGateway(db, publish, reply_timeout_s=0.01),
        health=health,
        **limits,
    )
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield FacadeOnly(http, db, published)
