"""Operating the service: readiness, liveness, Prometheus metrics and the access log."""

import asyncio
import json
import logging
import re

import httpx
import pytest

from crm.bootstrap import bootstrap
from crm.logging_setup import JsonFormatter, Redactor
from crm.runtime import Runtime
from crm.web import build_app
from tests.conftest import embedded_settings, processed
from tests.helpers import auth, new_request_id

CUSTOMERS = "/api/v1/crm/customers"


async def test_ready_when_started_and_dependencies_answer(client: httpx.AsyncClient) -> None:
    for path in ("/ready", "/api/v1/crm/ready"):
        response = await client.get(path)  # no token needed
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": "ready",
            "started": "up",
            "broker": "up",
            "store": "up",
        }
    health = await client.get("/api/v1/crm/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


@pytest.mark.wire_only
async def test_not_ready_before_start_and_after_stop() -> None:
    runtime = Runtime(bootstrap(embedded_settings()))
    app = build_app(runtime)  # no lifespan under httpx: the runtime is driven by hand
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        before = await http.get("/ready")
        assert before.status_code == 503
        assert before.json()["status"] == "not_ready"
        assert before.json()["started"] == "down"
        await runtime.start()
        assert (await http.get("/ready")).status_code == 200
        await runtime.stop()
        after = await http.get("/ready")
        assert after.status_code == 503
        assert after.json()["started"] == "down"


@pytest.mark.wire_only
async def test_store_that_stops_answering_makes_ready_503(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable() -> bool:
        return False

    monkeypatch.setattr(runtime.parts.store, "ping", unreachable)
    app = build_app(runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.get("/ready")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "started": "up",
        "broker": "up",
        "store": "down",
    }


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, None when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        series, value = line.rsplit(" ", 1)
        found = dict(_LABEL.findall(series[len(name) :]))
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            return float(value)
    return None


async def test_internal_metrics_count_http_requests_and_kafka_messages(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    template = f"{CUSTOMERS}/{{customer_id}}"
    scrape = await client.get("/internal/metrics")
    before = _sample(scrape.text, "crm_http_requests_total", route=template, status="404") or 0
    created = await client.post(
        CUSTOMERS, json={"name": "Metered"}, headers=auth(request_id=new_request_id())
    )
    assert created.status_code == 201, created.text
    await client.get(f"{CUSTOMERS}/no-such-customer", headers=auth())
    await processed(runtime)

    scrape = await client.get("/internal/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    # HTTP: count and latency by method, route template (never the raw path) and status
    assert _sample(text, "crm_http_requests_total", route=template, status="404") == before + 1
    assert (
        _sample(text, "crm_http_request_duration_seconds_count", method="POST", route=CUSTOMERS)
        or 0
    ) >= 1
    assert "no-such-customer" not in text
    # Kafka (FastStream's Prometheus middleware): the command was consumed and acked
    commands = runtime.parts.topics.commands
    assert (_sample(text, "faststream_received_messages_total", handler=commands) or 0) >= 1
    assert (
        _sample(
            text,
            "faststream_received_processed_messages_total",
            handler=commands,
            status="acked",
        )
        or 0
    ) >= 1
    assert (_sample(text, "faststream_published_messages_total", destination=commands) or 0) >= 1


@pytest.mark.wire_only
async def test_metrics_endpoint_is_internal_and_business_metrics_stay_json(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/internal/metrics" not in schema["paths"]
    business = await client.get("/api/v1/crm/metrics", headers=auth())
    assert business.status_code == 200
    assert "customerTotal" in business.json()
    unknown = await client.get("/no/such/route")
    assert unknown.status_code == 404
    text = (await client.get("/internal/metrics")).text
    assert 'route="<unmatched>"' in text
    assert "/no/such/route" not in text


@pytest.mark.wire_only
async def test_access_log_line_names_route_request_and_tenant_never_the_token(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    headers = auth(request_id="req-123", tenant="tenant-9")
    lines: list[str] = []
    formatter = JsonFormatter("api", Redactor())

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))  # formatted in the request's context

    handler = Collect(level=logging.INFO)
    access = logging.getLogger("crm.http.access")
    access.addHandler(handler)
    previous = access.level
    access.setLevel(logging.INFO)
    try:
        response = await client.get(f"{CUSTOMERS}/c-13812345678", headers=headers)
        await asyncio.sleep(0)
    finally:
        access.removeHandler(handler)
        access.setLevel(previous)
    assert response.status_code == 404
    [line] = [json.loads(raw) for raw in lines]
    assert line["route"] == f"{CUSTOMERS}/{{customer_id}}"
    assert line["status"] == 404
    assert line["method"] == "GET"
    assert line["requestId"] == "req-123"
    assert line["tenantId"] == "tenant-9"
    assert line["level"] == "INFO"
    raw = lines[0]
    assert headers["Authorization"].split()[1] not in raw
    assert "13812345678" not in raw
