"""The worker exports the lag of its consumer groups per partition on /internal/metrics."""

import json

import pytest

from crm.kafka_tuning import group_ids
from http_facade.metrics import prometheus_text
from tests.conftest import attach_probe, processed
from tests.helpers import publish_raw
from tests.integration.backends import Services, deployment

pytestmark = pytest.mark.wire_only  # holds the worker's per-customer lock to keep it busy

KEY = b"t1:busy-customer"


def command(number: int) -> bytes:
    envelope = {
        "commandId": f"lag-{number}",
        "type": "customer.create",
        "tenantId": "t1",
        "actorId": "u1",
        "payload": {"name": f"Lag {number}"},
    }
    return json.dumps(envelope).encode()


def lag_line(group: str, topic: str, lag: int) -> str:
    return f'crm_consumer_lag{{group="{group}",partition="0",topic="{topic}"}} {lag:.1f}'


async def test_lag_counts_the_records_waiting_then_drops_to_zero(services: Services) -> None:
    async with deployment(services, consumer_lag_interval_s=0) as ([runtime], probe):
        attach_probe(runtime, probe)
        group, integration_group = group_ids(runtime.parts.settings)
        topic = runtime.parts.topics.commands
        async with runtime.parts.locks.hold(KEY):  # the worker waits on the first of them
            for number in range(3):
                await publish_raw(runtime, topic, command(number), KEY, {})
            await runtime.parts.consumer_lag.refresh()
            text = prometheus_text().decode()
            assert lag_line(group, topic, 3) in text
            assert lag_line(integration_group, runtime.parts.topics.integration_events, 0) in text
        await processed(runtime)
        await runtime.parts.consumer_lag.refresh()
        assert lag_line(group, topic, 0) in prometheus_text().decode()
