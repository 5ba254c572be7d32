"""Everything the service publishes to Kafka, on the one producer of its `KafkaBroker`:
the facade's commands, the relay's change events and the worker's dead letters."""

import json
from typing import Any

from faststream.kafka import KafkaBroker

from schemas.command_origin import http_origin_headers
from schemas.topics import Topics

JSON_HEADERS = {"content-type": "application/json"}
CLOUDEVENT_HEADERS = {"content-type": "application/cloudevents+json; charset=utf-8"}


class KafkaPublisher:
    def __init__(self, broker: KafkaBroker, topics: Topics, origin_key: bytes | None) -> None:
        """`origin_key`: signs the facade's commands as coming from HTTP (None: unsigned)."""
        self._broker = broker
        self._topics = topics
        self._origin_key = origin_key

    async def publish_command(self, envelope: dict[str, Any], key: bytes) -> None:
        """`envelope` is JSON-ready (`CommandEnvelope.wire_with_json_payload()`): encoded
        here as FastStream would (`json.dumps`), without its walk converting it to JSON
        types first (an import's envelope holds thousands of items). A NaN or infinity
        is refused rather than published as a token that is not JSON. The explicit
        content type is sent, and the proof that the facade sent it (`changeorigin: http`
        on its events)."""
        value = json.dumps(envelope, allow_nan=False).encode()
        headers = dict(JSON_HEADERS)
        if self._origin_key is not None:
            headers.update(http_origin_headers(self._origin_key, value))
        await self._broker.publish(value, self._topics.commands, key=key, headers=headers)

    async def publish_event(self, event: dict[str, Any], key: bytes) -> None:
        await self._broker.publish(
            event, self._topics.customer_events, key=key, headers=CLOUDEVENT_HEADERS
        )

    async def publish_dead_letter(
        self, value: bytes, key: bytes | None, headers: dict[str, str]
    ) -> None:
        await self._broker.publish(value, self._topics.commands_dlq, key=key, headers=headers)
