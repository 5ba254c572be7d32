"""One broker middleware for what every message needs around it: the log context of a
consumed message, FastStream's Kafka metrics, and (embedded) the topic log.

FastStream builds each middleware anew for every message and every publish and layers
its scopes, so each one costs on the order of 30 µs a message before it does anything;
its own Prometheus middleware also looks up every metric's label child on each use (about
100 µs a command in all). Here there is one middleware, and the metrics are FastStream's
own families (same names, labels and buckets, from its `MetricsContainer`) with their
label children looked up once (`http_facade.metrics.labelled`).
`tests/unit/test_broker_telemetry.py` checks that the samples equal those of FastStream's
`KafkaPrometheusMiddleware`.
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
from faststream.prometheus.container import MetricsContainer
from faststream.prometheus.types import ProcessingStatus, PublishingStatus
from faststream.response import PublishType
from prometheus_client import CollectorRegistry

from crm.logging_setup import bind_message_context, unbind_work_context
from crm.topic_log import TopicLog
from http_facade.metrics import labelled

BROKER = "kafka"


@dataclass(frozen=True, slots=True)
class _Received:
    """One topic's children of the received-message families that every message uses,
    looked up once (four look-ups a message otherwise). The processed count's child
    depends on the outcome and is looked up as it comes."""

    total: Any
    size: Any
    in_process: Any
    duration: Any


class BrokerMetrics:
    """FastStream's Kafka metrics, as its Prometheus middleware records them."""

    def __init__(self, registry: CollectorRegistry, app_name: str) -> None:
        self._metrics = MetricsContainer(registry, custom_label_names=())
        self._app = app_name
        self._received: dict[str, _Received] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        return labelled(metric, self._app, BROKER, *labels)

    def _received_on(self, topic: str) -> "_Received":
        received = self._received.get(topic)
        if received is None:
            m = self._metrics
            received = self._received[topic] = _Received(
                self._child(m.received_messages_total, topic),
                self._child(m.received_messages_size_bytes, topic),
                self._child(m.received_messages_in_process, topic),
                self._child(m.received_processed_messages_duration_seconds, topic),
            )
        return received

    async def consume(self, call_next: Any, msg: Any) -> Any:
        topic = msg.raw_message.topic
        received = self._received_on(topic)
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
                exceptions = self._metrics.received_processed_messages_exceptions_total
                self._child(exceptions, topic, type(exc).__name__).inc()
            raise
        finally:
            received.duration.observe(time.perf_counter() - started)
            received.in_process.dec()
            status = ProcessingStatus.acked
            if msg.committed or error:
                status = (
                    PROCESSING_STATUS_BY_ACK_STATUS.get(msg.committed)
                    or PROCESSING_STATUS_BY_HANDLER_EXCEPTION_MAP.get(type(error))
                    or ProcessingStatus.error
                )
            processed = self._metrics.received_processed_messages_total
            self._child(processed, topic, status.value).inc()

    async def publish(self, call_next: Any, cmd: Any) -> Any:
        metrics, topic = self._metrics, cmd.destination
        error: Exception | None = None
        started = time.perf_counter()
        try:
            return await call_next(cmd)
        except Exception as exc:
            error = exc
            exceptions = metrics.published_messages_exceptions_total
            self._child(exceptions, topic, type(exc).__name__).inc()
            raise
        finally:
            duration = metrics.published_messages_duration_seconds
            self._child(duration, topic).observe(time.perf_counter() - started)
            status = PublishingStatus.error if error else PublishingStatus.success
            published = self._child(metrics.published_messages_total, topic, status.value)
            published.inc(len(cmd.batch_bodies))


def broker_telemetry(metrics: BrokerMetrics, topic_log: TopicLog | None) -> type[BaseMiddleware]:
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
            if topic_log is not None:
                topic_log.record(cmd.destination, cmd.key, cmd.headers, cmd.body)
            if cmd.publish_type is PublishType.REPLY:
                return await call_next(cmd)
            return await metrics.publish(call_next, cmd)

    return BrokerTelemetry
