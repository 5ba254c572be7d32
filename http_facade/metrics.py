"""Prometheus metrics of the facade and `GET /internal/metrics` (Prometheus text).

`/metrics` belongs to the CRM API (business metrics JSON); the scrape endpoint is
`/internal/metrics`, not in the public OpenAPI contract and meant for the cluster's
Prometheus, not for the public gateway. The process's default registry is exposed, so the
same page also carries FastStream's Kafka metrics (`faststream_*`, registered by the
runtime's broker middleware) and the process collectors.
"""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

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

_CHILDREN: dict[tuple[Any, ...], Any] = {}

router = APIRouter(include_in_schema=False)


def prometheus_text(registry: CollectorRegistry = REGISTRY) -> bytes:
    return generate_latest(registry)


@router.get(METRICS_PATH)
async def internal_metrics() -> Response:
    return Response(prometheus_text(), media_type=CONTENT_TYPE_LATEST)


def labelled(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, looked up once: `labels()` validates and takes a lock on
    every call, and the metric keeps the children it returns anyway."""
    key = (metric, *labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*labels)
    return child


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one answered request (`route` is a template, so labels stay few)."""
    labels = (method if method in KNOWN_METHODS else "OTHER", route, str(status))
    labelled(HTTP_REQUESTS, *labels).inc()
    labelled(HTTP_LATENCY, *labels).observe(seconds)
