"""Fixtures: an embedded runtime (in-process broker, mongomock store) and an HTTP client.

The runtime is the production wiring with the embedded backends, so tests run the same
handler, storage and facade code as `crm run`.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from crm.runtime import Runtime
from crm.settings import Settings
from crm.web import facade_context
from http_facade.app import create_app
from tests.helpers import TEST_SECRET


def embedded_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_url": None,
        "mongo_url": None,
        "jwt_secret": TEST_SECRET,
        "reply_timeout_s": 2.0,
        "retry_backoff_s": 0.0,
        "relay_interval_s": 0.05,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    rt = Runtime(embedded_settings())
    await rt.start()
    try:
        yield rt
    finally:
        await rt.stop()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(facade_context(runtime))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def published(runtime: Runtime, topic: str) -> list[dict[str, Any]]:
    """Messages on an embedded topic after the relay has flushed pending events."""
    await runtime.relay.run_once()
    assert runtime.topic_log is not None
    return runtime.topic_log.messages(topic)
