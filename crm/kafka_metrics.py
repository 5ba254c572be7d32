"""FastStream's Kafka metric families as plain numbers, exported by one collector.

The families, their help texts, labels and buckets are those FastStream's Prometheus
middleware records (its `MetricsContainer`), and the exported samples are those
prometheus_client's own metric objects would give (`tests/unit/test_broker_telemetry.py`
compares them). What differs is the recording: a prometheus_client counter or histogram
takes a lock on every increment and observation, and the worker records eight of them a
message, about 15 µs a command in the worker's loop (`make bench`'s command run, with and
without). Every message is recorded on the event loop's one thread, and the scrapes
(`/metrics` of the app and of the probe server) run on that loop too, so the numbers
need no lock: a scrape from another thread would at worst read one observation early.
"""

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from faststream.prometheus.container import MetricsContainer
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

PREFIX = "faststream"
RECEIVED_LABELS = ("app_name", "broker", "handler")
PUBLISHED_LABELS = ("app_name", "broker", "destination")


class Number:
    """One counter's or gauge's value for one set of labels."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


class Buckets:
    """One histogram's observations for one set of labels: a count per bucket (the
    first whose bound is at least the value, as prometheus_client counts) and the sum."""

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.counts[bisect_left(self.bounds, amount)] += 1
        self.sum += amount


Child = TypeVar("Child", Number, Buckets)


class Family(Generic[Child]):
    """A metric family: its children by label values, made on first use."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...],
        new_child: Callable[[], Child],
        export: Callable[["Family[Child]"], Metric],
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.children: dict[tuple[str, ...], Child] = {}
        self._new_child: Callable[[], Child] = new_child
        self._export: Callable[[Family[Child]], Metric] = export

    def child(self, *labels: str) -> Child:
        found = self.children.get(labels)
        if found is None:
            found = self.children[labels] = self._new_child()
        return found

    def exported(self) -> Metric:
        return self._export(self)


def _created_series() -> bool:
    """prometheus_client's switch (`disable_created_metrics()` or its environment
    variable) for the `_created` samples."""
    return bool(getattr(prometheus_metrics, "_use_created", True))


def _counter(family: "Family[Number]") -> Metric:
    metric = CounterMetricFamily(family.name, family.documentation, labels=family.labelnames)
    created = _created_series()
    for labels, number in list(family.children.items()):
        metric.add_metric(labels, number.value, created=number.created if created else None)
    return metric


def _gauge(family: "Family[Number]") -> Metric:
    metric = GaugeMetricFamily(family.name, family.documentation, labels=family.labelnames)
    for labels, number in list(family.children.items()):
        metric.add_metric(labels, number.value)
    return metric


def _histogram(family: "Family[Buckets]") -> Metric:
    metric = HistogramMetricFamily(family.name, family.documentation, labels=family.labelnames)
    created = _created_series()
    for labels, buckets in list(family.children.items()):
        cumulative, running = [], 0.0
        for bound, count in zip(buckets.bounds, buckets.counts, strict=True):
            running += count
            cumulative.append((floatToGoString(bound), running))
        metric.add_metric(labels, cumulative, buckets.sum)
        if created:
            named = dict(zip(family.labelnames, labels, strict=True))
            metric.samples.append(Sample(f"{family.name}_created", named, buckets.created))
    return metric


def _counters(name: str, documentation: str, labelnames: tuple[str, ...]) -> Family[Number]:
    return Family(f"{PREFIX}_{name}", documentation, labelnames, Number, _counter)


def _histograms(
    name: str, documentation: str, labelnames: tuple[str, ...], bounds: tuple[float, ...]
) -> Family[Buckets]:
    return Family(
        f"{PREFIX}_{name}", documentation, labelnames, lambda: Buckets(bounds), _histogram
    )


class KafkaMetrics:
    """The nine families (a prometheus_client collector)."""

    def __init__(self) -> None:
        sizes = tuple(MetricsContainer.DEFAULT_SIZE_BUCKETS)
        seconds = tuple(Histogram.DEFAULT_BUCKETS)
        self.received_total = _counters(
            "received_messages_total",
            "Count of received messages by broker and handler",
            RECEIVED_LABELS,
        )
        self.received_size = _histograms(
            "received_messages_size_bytes",
            "Histogram of received messages size in bytes by broker and handler",
            RECEIVED_LABELS,
            sizes,
        )
        self.in_process: Family[Number] = Family(
            f"{PREFIX}_received_messages_in_process",
            "Gauge of received messages in process by broker and handler",
            RECEIVED_LABELS,
            Number,
            _gauge,
        )
        self.processed_total = _counters(
            "received_processed_messages_total",
            "Count of received processed messages by broker, handler and status",
            (*RECEIVED_LABELS, "status"),
        )
        self.processed_duration = _histograms(
            "received_processed_messages_duration_seconds",
            "Histogram of received processed messages duration in seconds by broker and handler",
            RECEIVED_LABELS,
            seconds,
        )
        self.processed_exceptions = _counters(
            "received_processed_messages_exceptions_total",
            "Count of received processed messages exceptions by broker, handler and exception_type",
            (*RECEIVED_LABELS, "exception_type"),
        )
        self.published_total = _counters(
            "published_messages_total",
            "Count of published messages by destination and status",
            (*PUBLISHED_LABELS, "status"),
        )
        self.published_duration = _histograms(
            "published_messages_duration_seconds",
            "Histogram of published messages duration in seconds by broker and destination",
            PUBLISHED_LABELS,
            seconds,
        )
        self.published_exceptions = _counters(
            "published_messages_exceptions_total",
            "Count of published messages exceptions by broker, destination and exception_type",
            (*PUBLISHED_LABELS, "exception_type"),
        )
        self._families: list[Family[Number] | Family[Buckets]] = [
            self.received_total,
            self.received_size,
            self.in_process,
            self.processed_total,
            self.processed_duration,
            self.processed_exceptions,
            self.published_total,
            self.published_duration,
            self.published_exceptions,
        ]

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield family.exported()

    def describe(self) -> Iterator[Metric]:
        """The families, for the registry's check that no other collector has their names."""
        return self.collect()


_BY_REGISTRY: "WeakKeyDictionary[CollectorRegistry, KafkaMetrics]" = WeakKeyDictionary()


def kafka_metrics(registry: CollectorRegistry) -> KafkaMetrics:
    """The registry's families, registered on first use: every broker of the process
    records into the same ones (as FastStream reuses a registry's metrics by name)."""
    found = _BY_REGISTRY.get(registry)
    if found is None:
        found = _BY_REGISTRY[registry] = KafkaMetrics()
        registry.register(found)
    return found
