"""Builds the FastAPI app for a runtime and ties the runtime's life to the app's."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from crm.asyncapi import build_asyncapi
from crm.logging_setup import access_line_writer, use_request_context
from crm.runtime import Runtime
from http_facade.app import create_app
from http_facade.commands import CommandGateway
from http_facade.context import FacadeContext
from http_facade.middleware import access_log, log_access, request_log_context


def facade_context(runtime: Runtime) -> FacadeContext:
    parts, settings = runtime.parts, runtime.parts.settings

    async def health() -> dict[str, bool]:
        return {"broker": await runtime.broker_ready(), "store": await parts.store.ping()}

    return FacadeContext(
        db=parts.store.db,
        jwt_secret=settings.effective_jwt_secret,
        commands=CommandGateway(
            parts.store.db,
            parts.publisher.publish_command,
            settings.reply_timeout_s,
            parts.journal_watch,
        ),
        health=health,
        asyncapi=build_asyncapi(parts.topics),
        max_body_bytes=settings.max_body_bytes,
        rate_limit_per_s=settings.rate_limit_per_s,
        rate_limit_burst=settings.rate_limit_burst,
        access_line=access_line_writer(access_log, fallback=log_access),
    )


def build_app(runtime: Runtime) -> FastAPI:
    """The app; starting it starts the runtime (broker, store indexes, relay) unless it
    was started before (the CLI does, to report connection attempts before serving)."""

    use_request_context(request_log_context)  # log lines carry the request's id and tenant

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()  # a no-op when already started
        try:
            yield
        finally:
            await runtime.stop()

    return create_app(facade_context(runtime), lifespan=lifespan, readiness=runtime.readiness)
