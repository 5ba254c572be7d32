"""Prometheus metrics of the facade and `GET /internal/metrics` (Prometheus text).

`/metrics` belongs to API B (business metrics JSON); the scrape endpoint is
`/internal/metrics`, not in the public OpenAPI contract and meant for the cluster's
Prometheus, not for the public gateway. The process's default registry is exposed, so the
same page also carries FastStream's Kafka metrics (`faststream_*`, registered by the
runtime's broker middleware) and the process collectors.
"""

import time

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from http_facade.middleware import route_template

METRICS_PATH = "/internal/metrics"
LABELS = ("method", "route", "status")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "crm_http_requests_total",
    "HTTP requests answered, by method, route template and status code",
    LABELS,
)
HTTP_LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "HTTP request latency in seconds (until the response is complete), by method, "
    "route template and status code",
    LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

router = APIRouter(include_in_schema=False)


def prometheus_text(registry: CollectorRegistry = REGISTRY) -> bytes:
    return generate_latest(registry)


@router.get(METRICS_PATH)
async def internal_metrics() -> Response:
    return Response(prometheus_text(), media_type=CONTENT_TYPE_LATEST)


class HttpMetrics:
    """Counts and times every HTTP request (outermost, so refused ones are counted too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            method = str(scope.get("method", ""))
            method = method if method in KNOWN_METHODS else "OTHER"  # bounded label values
            labels = (method, route_template(scope), str(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - started)
