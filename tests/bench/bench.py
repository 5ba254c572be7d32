"""`make bench`: each figure is a ratio against a baseline measured in the same run.

The machines are shared and noisy, so the measured side and its baseline alternate,
round after round, and the medians are compared. Run: `.venv/bin/python -m tests.bench.bench`.
"""

import argparse
import asyncio
import gc
import json
import logging
import statistics
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker, TestKafkaBroker

from crm.runtime import Runtime, run_test_broker_as_service
from crm.web import facade_context
from http_facade.app import create_app
from schemas.customers import MAX_IMPORT_ITEMS
from schemas.envelope import CommandEnvelope, CommandType
from schemas.ids import created_customer_id, partition_key
from storage.customers import CUSTOMERS
from storage.database import Database
from storage.documents import alive, public
from tests.conftest import embedded_settings
from tests.helpers import auth

TENANT = "bench"
Timed = Callable[[], Awaitable[None]]


def start_clock() -> float:
    """The start of a timed part. A full collection owed by earlier rounds (the embedded
    store keeps the whole database in this heap) is paid first, untimed, so rounds do not
    inherit each other's garbage-collector debt; collections the timed work itself
    triggers stay timed."""
    gc.collect()
    return time.perf_counter()


async def seconds(action: Timed) -> float:
    started = start_clock()
    await action()
    return time.perf_counter() - started


# Untimed rounds first: a process's first requests, commands and imports build what later
# ones reuse (FastAPI's and pydantic's lazily built parts, the broker's first publish), so
# an import's first round took 100-125 ms against 60 after it, one outlier in every median.
WARM_UP_ROUNDS = 1


def timed(samples: list[float]) -> list[float]:
    """The samples of the timed rounds of a side that times itself (the warm-up's dropped)."""
    return samples[WARM_UP_ROUNDS:]


async def alternate(measured: Timed, baseline: Timed, rounds: int) -> tuple[float, float]:
    """Median seconds of each side, the two sides interleaved round by round, after the
    warm-up rounds."""
    for _ in range(WARM_UP_ROUNDS):
        await measured()
        await baseline()
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(await seconds(measured))
        theirs.append(await seconds(baseline))
    return statistics.median(ours), statistics.median(theirs)


async def interleave(first: Timed, second: Timed, rounds: int) -> None:
    """The two sides round by round, the warm-up rounds first, for sides that time only
    part of themselves (each starts its own clock with `start_clock` and keeps its samples:
    the figures take the `timed` ones)."""
    for _ in range(WARM_UP_ROUNDS + rounds):
        await first()
        await second()


def bare_app(db: Database) -> FastAPI:
    """The floor: the same documents from the same store, no auth, no middleware."""
    # FastAPI remembers endpoint functions in a process-wide cache; through a closure over
    # the store itself, each run's whole store would outlive it, and the garbage
    # collector's full passes in later runs (double data, double work) would walk it too.
    db = weakref.proxy(db)
    app = FastAPI()

    @app.get("/bare/customers/{customer_id}")
    async def detail(customer_id: str) -> JSONResponse:
        doc = await db[CUSTOMERS].find_one(alive(TENANT, _id=customer_id))
        return JSONResponse(public(doc or {"_id": customer_id}))

    @app.get("/bare/customers")
    async def page() -> JSONResponse:
        query = alive(TENANT)
        docs = (
            await db[CUSTOMERS]
            .find(query)
            .sort([("createdAt", -1), ("_id", -1)])
            .limit(20)
            .to_list()
        )
        total = await db[CUSTOMERS].count_documents(query)
        return JSONResponse({"items": [public(d) for d in docs], "total": total})

    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")


async def seed(runtime: Runtime, count: int) -> list[str]:
    """`count` customers through the real import command."""
    ids: list[str] = []
    for start in range(0, count, 2000):
        items = [
            {"name": f"Customer {uuid.uuid4()}", "phone": "13812345678"}
            for _ in range(min(2000, count - start))
        ]
        result = await runtime.processor.process(
            CommandEnvelope(
                command_id=str(uuid.uuid4()),
                type=CommandType.CUSTOMER_IMPORT,
                tenant_id=TENANT,
                actor_id="bench",
                payload={"items": items},
            )
        )
        ids += [item["id"] for item in result.data["items"] if item["status"] == "created"]
    return ids


async def bench_reads(
    runtime: Runtime, ids: list[str], requests: int, rounds: int
) -> dict[str, float]:
    full = client_for(create_app(facade_context(runtime)))
    bare = client_for(bare_app(runtime.store.db))
    headers = auth(("customers.read", "crm.read"), tenant=TENANT)
    picks = [ids[i * 7919 % len(ids)] for i in range(requests)]

    async def full_detail() -> None:
        for customer_id in picks:
            (
                await full.get(f"/api/v1/api/customers/{customer_id}", headers=headers)
            ).raise_for_status()

    async def bare_detail() -> None:
        for customer_id in picks:
            (await bare.get(f"/bare/customers/{customer_id}")).raise_for_status()

    async def full_list() -> None:
        for _ in range(requests // 4):
            (
                await full.get("/api/v1/crm/customers?page=1&pageSize=20", headers=headers)
            ).raise_for_status()

    async def bare_list() -> None:
        for _ in range(requests // 4):
            (await bare.get("/bare/customers")).raise_for_status()

    detail = await alternate(full_detail, bare_detail, rounds)
    listing = await alternate(full_list, bare_list, rounds)
    await full.aclose()
    await bare.aclose()
    return {
        "read detail (full/bare throughput)": detail[1] / detail[0],
        "read list (full/bare throughput)": listing[1] / listing[0],
        "read detail seconds": detail[0],
        "read list seconds": listing[0],
    }


async def create_commands(runtime: Runtime, count: int) -> None:
    """`count` new-customer commands, published on crm.commands (handled inline)."""
    for _ in range(count):
        command_id = str(uuid.uuid4())
        envelope = {
            "commandId": command_id,
            "type": "customer.create",
            "tenantId": TENANT,
            "actorId": "bench",
            "payload": {"name": f"C {command_id}", "phone": "13812345678"},
        }
        key = partition_key(TENANT, created_customer_id(TENANT, command_id))
        await runtime.publish_command(envelope, key)


async def bench_commands(runtime: Runtime, count: int, rounds: int) -> dict[str, float]:
    """Commands through the whole pipeline vs a bare subscriber doing one insert.

    Each full command is published on crm.commands and handled inline by the embedded
    broker: decode, journal look-up, decide, commit (result + outbox record), apply,
    finish. The relay that publishes the outbox runs between rounds, untimed, as it runs
    beside the consumer in production."""
    # Configured as the runtime configures its broker, minus our middlewares; the handler
    # is FastStream's usual typed one (FastDepends decodes and validates the body), where
    # ours turns FastDepends off and decodes the raw record itself (README).
    floor_broker = KafkaBroker(
        "embedded:9092", logger=logging.getLogger("crm.kafka"), log_level=logging.DEBUG
    )
    floor_collection = runtime.store.db["bench_floor"]

    @floor_broker.subscriber("bench.floor", group_id="bench")
    async def insert_one(body: dict[str, Any]) -> None:
        await floor_collection.insert_one({"_id": body["commandId"], **body["payload"]})

    async def full() -> None:
        await create_commands(runtime, count)

    async with TestKafkaBroker(floor_broker) as floor:
        run_test_broker_as_service(floor_broker)  # as the embedded runtime runs its broker

        async def bare() -> None:
            await runtime.relay.run_once()  # the previous round's outbox, outside `full`
            started = start_clock()
            for _ in range(count):
                command_id = str(uuid.uuid4())
                await floor.publish(
                    {"commandId": command_id, "payload": {"name": command_id}},
                    "bench.floor",
                    key=b"k",
                )
            relay_free.append(time.perf_counter() - started)

        relay_free: list[float] = []
        ours, _ = await alternate(full, bare, rounds)
        theirs = statistics.median(timed(relay_free))
    return {"command (full/bare throughput)": theirs / ours, "command seconds": ours}


async def bench_import(runtime: Runtime, imports: int, rounds: int) -> dict[str, float]:
    """`imports` 2000-item imports (the largest one import takes) through the API, each
    answered once its result is stored, vs one insert_many of the same documents: the
    customer documents those imports stored, under new ids. The clock covers the service's
    side only: the client builds and encodes its request bodies before it starts and reads
    the answers after it stops, as the floor's documents are made before its clock starts.
    The relay publishing the imports' events runs between rounds, untimed."""
    client = client_for(create_app(facade_context(runtime)))
    collection = runtime.store.db["bench_import_floor"]
    imported: list[str] = []

    async def full() -> None:
        imported.clear()
        requests = [import_request() for _ in range(imports)]
        started = start_clock()
        responses = [
            await client.post("/api/v1/crm/customers/import", content=body, headers=headers)
            for headers, body in requests
        ]
        service.append(time.perf_counter() - started)
        for response in responses:
            response.raise_for_status()
            imported.extend(item["id"] for item in response.json()["items"])

    async def bare() -> None:
        await runtime.relay.run_once()  # the previous imports' events, outside `full`
        stored = await runtime.store.db[CUSTOMERS].find({"_id": {"$in": imported}}).to_list()
        documents = [{**doc, "_id": str(uuid.uuid4())} for doc in stored]
        started = start_clock()
        await collection.insert_many(documents)
        floor.append(time.perf_counter() - started)
        # The copies are the floor's, not data the imports made: dropped (untimed), so
        # the heap the next rounds' collections walk holds only the service's own data.
        await collection.drop()

    service: list[float] = []
    floor: list[float] = []
    await interleave(full, bare, rounds)
    await client.aclose()
    ours = statistics.median(timed(service))
    return {
        "import (full/bare time)": ours / statistics.median(timed(floor)),
        "import seconds": ours,
    }


def import_request() -> tuple[dict[str, str], bytes]:
    """Headers and encoded body of one 2000-item import of new customers."""
    headers = auth(("customers.write",), tenant=TENANT, request_id=str(uuid.uuid4()))
    headers["content-type"] = "application/json"
    items = [
        {"name": f"Imported {uuid.uuid4()}", "phone": "13812345678"}
        for _ in range(MAX_IMPORT_ITEMS)
    ]
    return headers, json.dumps({"items": items}).encode()


async def run(
    data_scale: int, work_scale: int, rounds: int, *, reads: bool = True, writes: bool = True
) -> dict[str, float]:
    """The read and/or write figures at `data_scale` × 2000 stored customers and
    `work_scale` × the work."""
    runtime = Runtime(embedded_settings(relay_interval_s=60.0))
    await runtime.start()
    try:
        ids = await seed(runtime, 2000 * data_scale)
        figures: dict[str, float] = {}
        if reads:
            # Rounds of 1000 reads: a short pause of a shared machine shifts one
            # round's time, not the median (rounds of 200 moved it).
            figures |= await bench_reads(runtime, ids, 1000, rounds)
        if writes:
            figures |= await bench_commands(runtime, 300 * work_scale, rounds)
            figures |= await bench_import(runtime, work_scale, rounds)
        return figures
    finally:
        await runtime.stop()


TARGETS = {
    "read detail (full/bare throughput)": ("≥", 0.6),
    "read list (full/bare throughput)": ("≥", 0.6),
    "command (full/bare throughput)": ("≥", 0.35),
    "import (full/bare time)": ("≤", 3.0),
}


def verdict(value: float, target: tuple[str, float]) -> str:
    sign, bound = target
    ok = value >= bound if sign == "≥" else value <= bound
    return f"target {sign} {bound}: {'MET' if ok else 'MISSED'}"


READ_GROWTH = ("read detail seconds", "read list seconds")  # double the stored data
WRITE_GROWTH = ("command seconds", "import seconds")  # double the work


def spread(values: list[float]) -> str:
    """Each run's (or pair's) value, after the median printed before it."""
    return f"   (each: {' '.join(f'{v:.3f}' for v in values)})" if values else ""


GROWTH_TARGET = ("≤", 2.2)


def growth_line(doubled: str, name: str, growth: float) -> str:
    return (
        f"growth, double {doubled:4s} {name:24s} {growth:6.3f}   {verdict(growth, GROWTH_TARGET)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write-pairs", type=int, default=3)
    args = parser.parse_args()
    reads = asyncio.run(run(1, 1, args.rounds, writes=False))
    more_data = asyncio.run(run(2, 1, args.rounds, writes=False))
    # A growth compares two runs, not a side and its floor within one: a shared machine
    # that slows between them moves it (one run's import growth read 2.32, the next one's
    # 1.96). So the writes run in pairs, single and double work one after the other, and
    # each figure is the median over the pairs: of the single runs' ratios, and of each
    # pair's growth.
    pairs = [
        (
            asyncio.run(run(1, 1, args.rounds, reads=False)),
            asyncio.run(run(1, 2, args.rounds, reads=False)),
        )
        for _ in range(args.write_pairs)
    ]
    singles = {name: [single[name] for single, _ in pairs] for name in pairs[0][0]}
    base = reads | {name: statistics.median(values) for name, values in singles.items()}
    print(
        f"figures: medians of {args.rounds} alternating rounds, 2000 stored customers; "
        f"the write figures and their growth: medians over {args.write_pairs} pairs of runs"
    )
    for name, target in TARGETS.items():
        each = singles.get(name, [])
        print(f"{name:40s} {base[name]:6.3f}   {verdict(base[name], target)}{spread(each)}")
    for name in READ_GROWTH:
        print(growth_line("data", name, more_data[name] / reads[name]))
    for name in WRITE_GROWTH:
        each = [double[name] / single[name] for single, double in pairs]
        print(growth_line("work", name, statistics.median(each)) + spread(each))


if __name__ == "__main__":
    main()
