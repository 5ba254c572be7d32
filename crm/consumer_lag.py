"""Per-partition lag of the worker's consumer groups, exported as `crm_consumer_lag`.

Lag of a partition = its log end offset minus the group's committed offset (the group's
first offset there when it has committed none): how many records are waiting for the
group. Each worker reports the partitions assigned to it, so across workers every
partition is reported once. Measured every `CRM_CONSUMER_LAG_INTERVAL_S` by the worker's
own consumers (no admin API: Tansu's answer to the admin client's group-offset listing
cannot be decoded); a scrape reads the last measurement.
"""

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric

log = logging.getLogger("crm.lag")

# (group, topic, partition) -> records waiting
Lags = dict[tuple[str, str, int], int]


class ConsumerLag:
    """Measures the lag of the consumers `consumers()` gives (None: not started yet);
    `groups` names the consumer group of each topic."""

    def __init__(self, consumers: Callable[[], Iterable[Any]], groups: dict[str, str]) -> None:
        self._consumers = consumers
        self._groups = groups
        self.lags: Lags = {}
        _TRACKERS.add(self)

    async def refresh(self) -> Lags:
        """Measure now; the new figures replace the previous ones (partitions no longer
        assigned here drop out)."""
        fresh: Lags = {}
        for consumer in self._consumers():
            if consumer is None:
                continue
            partitions = sorted(consumer.assignment())
            if not partitions:
                continue
            ends = await consumer.end_offsets(partitions)
            firsts = await consumer.beginning_offsets(partitions)
            for tp in partitions:
                committed = await consumer.committed(tp)
                done = firsts[tp] if committed is None else committed
                group = self._groups.get(tp.topic, "")
                fresh[(group, tp.topic, tp.partition)] = max(ends[tp] - done, 0)
        self.lags = fresh
        return fresh

    async def run(self, interval_s: float) -> None:
        """Measure every `interval_s` until cancelled; a failed measurement keeps the last."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("measuring consumer lag failed: %r", exc)
            await asyncio.sleep(interval_s)


class _LagCollector:
    """Exports the figures of every live `ConsumerLag` in the process."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "crm_consumer_lag",
            "Records waiting for the worker's consumer group, per assigned partition "
            "(log end offset minus committed offset)",
            labels=["group", "topic", "partition"],
        )
        for tracker in list(_TRACKERS):
            for (group, topic, partition), lag in sorted(tracker.lags.items()):
                family.add_metric([group, topic, str(partition)], lag)
        yield family


_TRACKERS: "weakref.WeakSet[ConsumerLag]" = weakref.WeakSet()
with contextlib.suppress(ValueError):  # registered once per process
    REGISTRY.register(_LagCollector())
