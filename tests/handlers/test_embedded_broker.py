"""The embedded broker runs FastStream's test broker as a service, not as a test double."""

import json
import logging

import pytest

from crm.runtime import Runtime
from tests.conftest import embedded_settings
from tests.helpers import publish_raw


def create_command(number: int) -> bytes:
    return json.dumps(
        {
            "commandId": f"embedded-{number}",
            "type": "customer.create",
            "tenantId": "t1",
            "actorId": "producer-1",
            "payload": {"name": f"Customer {number}"},
        }
    ).encode()


async def test_faststream_lines_reach_the_configured_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The test broker swaps the broker's logger for a MagicMock, which would swallow
    FastStream's own lines (a failing handler's among them) in `make run`."""
    caplog.set_level(logging.DEBUG, logger="crm.kafka")
    runtime = Runtime(embedded_settings())
    await runtime.start()
    try:
        await publish_raw(runtime, runtime.topics.commands, create_command(1), b"t1:k", {})
    finally:
        await runtime.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "crm.kafka"]
    assert "Received" in lines
    assert "Processed" in lines


async def test_delivered_messages_are_not_kept() -> None:
    """The test broker keeps every delivered message for assertions; a long-running
    embedded service must not (its memory would grow with every message)."""
    runtime = Runtime(embedded_settings())
    await runtime.start()
    try:
        for number in range(5):
            await publish_raw(runtime, runtime.topics.commands, create_command(number), b"t1:k", {})
        await runtime.relay.run_once()  # change events published too
        # FastStream keeps them in each handler's call recorder (an internal of 0.7).
        kept = [
            len(call.handler._recorder.calls)
            for subscriber in runtime.broker.subscribers
            for call in subscriber.calls
        ]
    finally:
        await runtime.stop()
    assert kept  # the subscribers were found
    assert sum(kept) == 0
