"""One broker middleware for what every message needs around it: the log context of a
consumed message, FastStream's Kafka metrics, and (embedded) the topic log.

FastStream builds each middleware anew for every message and every publish and layers
its scopes, so each one costs on the order of 30 µs a message before it does anything;
its own Prometheus middleware also looks up every metric's label child on each use (about
100 µs a command in all). Here there is one middleware, recording FastStream's own metric
families (`crm.kafka_metrics`: same names, labels and buckets) with the children every
message uses looked up once per topic. `tests/unit/test_broker_telemetry.py` checks that
the samples equal those of FastStream's `KafkaPrometheusMiddleware`.
"""

import time
from dataclasses import dataclass
from typing import Any

from faststream import BaseMiddleware
from faststream.exceptions import IgnoredException
from faststream.message import SourceType
from faststream.prometheus.consts import (
    PROCESSING_STATUS_BY_ACK_STATUS,
    PROCESSING_STATUS_BY_HANDLER_EXCEPTION_MAP,
)
from faststream.prometheus.types import ProcessingStatus, PublishingStatus
from faststream.response import PublishType
from prometheus_client import CollectorRegistry

from crm.kafka_metrics import Buckets, Number, kafka_metrics
from crm.logging_setup import bind_message_context, unbind_work_context

BROKER = "kafka"
ACKED = ProcessingStatus.acked.value
PUBLISHED = PublishingStatus.success.value
NOT_PUBLISHED = PublishingStatus.error.value


@dataclass(frozen=True, slots=True)
class _Received:
    """One topic's children of the families every consumed message records."""

    total: Number
    size: Buckets
    in_process: Number
    duration: Buckets


@dataclass(frozen=True, slots=True)
class _Published:
    """One destination's children of the families every publish records."""

    duration: Buckets
    published: Number


class BrokerMetrics:
    """FastStream's Kafka metrics, as its Prometheus middleware records them."""

    def __init__(self, registry: CollectorRegistry, app_name: str) -> None:
        self._metrics = kafka_metrics(registry)
        self._app = app_name
        self._received: dict[str, _Received] = {}
        self._published: dict[str, _Published] = {}

    def _first_received_on(self, topic: str) -> _Received:
        """The topic's children, looked up on its first message and kept."""
        m, labels = self._metrics, (self._app, BROKER, topic)
        received = self._received[topic] = _Received(
            m.received_total.child(*labels),
            m.received_size.child(*labels),
            m.in_process.child(*labels),
            m.processed_duration.child(*labels),
        )
        return received

    def _first_published_on(self, topic: str) -> _Published:
        """The destination's children, looked up on its first publish and kept."""
        m, labels = self._metrics, (self._app, BROKER, topic)
        published = self._published[topic] = _Published(
            m.published_duration.child(*labels), m.published_total.child(*labels, PUBLISHED)
        )
        return published

    async def consume(self, call_next: Any, msg: Any) -> Any:
        topic = msg.raw_message.topic
        received = self._received.get(topic) or self._first_received_on(topic)
        received.total.inc()
        received.size.observe(len(msg.body))
        received.in_process.inc()
        error: Exception | None = None
        started = time.perf_counter()
        try:
            return await call_next(msg)
        except Exception as exc:
            error = exc
            if not isinstance(exc, IgnoredException):
                exceptions = self._metrics.processed_exceptions
                exceptions.child(self._app, BROKER, topic, type(exc).__name__).inc()
            raise
        finally:
            received.duration.observe(time.perf_counter() - started)
            received.in_process.dec()
            status = ACKED
            if msg.committed or error:
                status = (
                    PROCESSING_STATUS_BY_ACK_STATUS.get(msg.committed)
                    or PROCESSING_STATUS_BY_HANDLER_EXCEPTION_MAP.get(type(error))
                    or ProcessingStatus.error
                ).value
            self._metrics.processed_total.child(self._app, BROKER, topic, status).inc()

    async def publish(self, call_next: Any, cmd: Any) -> Any:
        topic = cmd.destination
        started = time.perf_counter()
        try:
            result = await call_next(cmd)
        except Exception as exc:
            m, labels = self._metrics, (self._app, BROKER, topic)
            m.published_exceptions.child(*labels, type(exc).__name__).inc()
            m.published_duration.child(*labels).observe(time.perf_counter() - started)
            m.published_total.child(*labels, NOT_PUBLISHED).inc(len(cmd.batch_bodies))
            raise
        published = self._published.get(topic) or self._first_published_on(topic)
        published.duration.observe(time.perf_counter() - started)
        published.published.inc(len(cmd.batch_bodies))
        return result


def broker_telemetry(metrics: BrokerMetrics) -> type[BaseMiddleware]:
    """The middleware class for `KafkaBroker(middlewares=...)`."""

    class BrokerTelemetry(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            token = bind_message_context(msg.body, msg.headers)
            try:
                if msg.source_type is SourceType.RESPONSE:
                    return await call_next(msg)
                return await metrics.consume(call_next, msg)
            finally:
                unbind_work_context(token)

        async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
            if cmd.publish_type is PublishType.REPLY:
                return await call_next(cmd)
            return await metrics.publish(call_next, cmd)

    return BrokerTelemetry
