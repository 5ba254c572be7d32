"""The floor of the write figures: the least an HTTP write through Kafka into the store can
cost with the libraries the service uses.

A uvicorn factory (`tests.bench.write_floor:floor_app`), run beside the `crm run` it is
compared with and configured by the same environment (`Settings()`), so it talks to that
service's embedded Tansu broker. One FastAPI route at the service's path takes the JSON
body, publishes it with a plain aiokafka producer to a topic of its own (created with the
service's partition count), and answers 201 with the document once a plain aiokafka
consumer (the service's consumer options: on Tansu, fetch_max_wait_ms=10 and the rest of
`crm.kafka_tuning`) has inserted it into an in-memory store opened as the service opens
its own (`storage.database.open_store`). The consumer resolves a future keyed by the
X-Request-ID, so the route answers the moment the insert is done (the service polls its
journal instead). Left out: auth, validation, the command envelope and journal, the
idempotency checks, per-message commits (the floor's group commits automatically, every
5 s), the outbox and its relay, every middleware.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import FastAPI, Header, Response

from crm.kafka_tuning import consumer_options
from crm.settings import Settings
from storage.database import open_store

PATH = "/api/v1/crm/customers"  # the service's path: wrk sends both sides the same bytes
READY_PATH = "/floor/ready"
TOPIC = "bench.write-floor"
GROUP = "bench-write-floor"
Document = dict[str, Any]


async def create_topic(bootstrap: list[str], partitions: int) -> None:
    """The floor's topic, partitioned as the service's are (already there: left as it is)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-floor")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, partitions, 1)])
    finally:
        await admin.close()


def floor_app() -> FastAPI:
    settings = Settings()
    bootstrap = settings.kafka_servers
    store = open_store(None, "bench")
    customers = store.db["customers"]
    waiting: dict[str, asyncio.Future[Document]] = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="bench-floor")
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=GROUP,
        auto_offset_reset="earliest",
        **consumer_options(settings),
    )

    async def insert_each() -> None:
        async for record in consumer:
            document = json.loads(record.value or b"{}")
            await customers.insert_one(document)
            reply = waiting.pop(document["_id"], None)
            if reply is not None and not reply.done():
                reply.set_result(document)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await create_topic(bootstrap, settings.kafka_partitions)
        await producer.start()
        await consumer.start()
        consuming = asyncio.create_task(insert_each())
        try:
            yield
        finally:
            consuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consuming
            await consumer.stop()
            await producer.stop()
            await store.close()

    app = FastAPI(lifespan=lifespan)

    @app.get(READY_PATH)
    async def ready(response: Response) -> dict[str, bool]:
        """200 once the consumer has its partitions (a write before would wait for them)."""
        assigned = bool(consumer.assignment())
        response.status_code = 200 if assigned else 503
        return {"assigned": assigned}

    @app.post(PATH, status_code=201)
    async def create(body: Document, x_request_id: Annotated[str, Header()]) -> Document:
        document = {**body, "_id": x_request_id}
        reply = asyncio.get_running_loop().create_future()
        waiting[x_request_id] = reply
        value = json.dumps(document).encode()
        await producer.send_and_wait(TOPIC, value, key=x_request_id.encode())
        return await reply

    return app
