"""`make load`: HTTP load with wrk, GET customer detail on `crm run` vs a bare FastAPI floor.

The check a reviewer runs by hand: start the service as `make run` does (embedded mode, its
own Tansu broker, unless CRM_KAFKA_URL / CRM_MONGO_URL say otherwise; free ports for HTTP
and the broker), seed customers through the public API, then alternate wrk runs against our
detail route and against the floor, round by round, and compare the median requests per
second. Run: `.venv/bin/python -m tests.bench.load`; `make bench` runs it too.

The floor is a separate uvicorn process with uvicorn's defaults (same loop and HTTP
implementation uvicorn picks for us, its access log on) serving one FastAPI route at the
same path, returning the same JSON document (parsed once at start-up, returned as a dict
so FastAPI serialises it like any route). It includes HTTP parsing, routing and JSON
serialisation; it excludes auth (the token is sent but ignored), the store, tenancy,
masking, the envelope and every middleware. Both sides get byte-identical requests.
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from tests.bench.processes import Service, crm_run, log_dir, uvicorn_factory
from tests.bench.wrk import require_wrk, wrk

DETAIL = "/api/v1/api/customers"
BODY_ENV = "CRM_LOAD_FLOOR_BODY"  # the floor's document, handed over by environment
TARGET = 0.7  # ours / floor, median requests per second


def bare_app() -> FastAPI:
    """The floor (a uvicorn factory): one route, no auth, no store, no middleware."""
    document: dict[str, Any] = json.loads(os.environ[BODY_ENV])
    app = FastAPI()

    @app.get(DETAIL + "/{customer_id}")
    async def detail(customer_id: str) -> dict[str, Any]:
        return document

    return app


def seed(client: httpx.Client, count: int) -> str:
    """Create customers as a user would; returns the id of one in the middle."""
    ids = []
    for i in range(count):
        body = {"name": f"Load Customer {i + 1}", "phone": f"138{i:08d}"}
        answer = client.post(DETAIL, json=body, headers={"X-Request-ID": str(uuid.uuid4())})
        if answer.status_code == 202:  # decided but not applied yet: follow the command
            location = answer.headers["Location"]
            while (status := client.get(location).json())["status"] == "pending":
                time.sleep(0.05)
            ids.append(status["entityId"])
        elif answer.status_code == 201:
            ids.append(answer.json()["data"]["id"])
        else:
            sys.exit(f"seeding failed: POST {DETAIL} -> {answer.status_code} {answer.text}")
    return str(ids[count // 2])


@dataclass(frozen=True)
class ReadFigures:
    """Requests/s of each round, per side."""

    ours: list[float]
    floor: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ours) / statistics.median(self.floor)


def measure_reads(
    service: Service, rounds: int, seconds: int, connections: int, customers: int
) -> ReadFigures:
    """Seed `service`, start the floor beside it, alternate wrk runs of GET detail."""
    headers = {"Authorization": f"Bearer {service.token}"}
    with httpx.Client(base_url=service.base, headers=headers, timeout=10) as client:
        customer_id = seed(client, customers)
        detail = client.get(f"{DETAIL}/{customer_id}")
    if detail.status_code != 200:
        sys.exit(f"GET {DETAIL}/{customer_id} -> {detail.status_code} {detail.text}")
    print(f"  seeded {customers} customers; detail body {len(detail.content)} bytes", flush=True)

    floor_env = {**os.environ, BODY_ENV: detail.content.decode()}
    floor_log = service.logs / "read-floor.log"
    with uvicorn_factory("tests.bench.load:bare_app", floor_env, floor_log, f"{DETAIL}/x") as floor:
        answer = httpx.get(f"{floor.base}{DETAIL}/x", timeout=10)
        if answer.json() != detail.json():
            sys.exit(f"the floor does not answer our document: {answer.text}")
        urls = {"ours": f"{service.base}{DETAIL}/{customer_id}", "floor": f"{floor.base}{DETAIL}/x"}
        for url in urls.values():  # warm-up: first-request costs, connection set-up
            wrk(url, service.token, seconds=1, connections=connections)
        figures: dict[str, list[float]] = {"ours": [], "floor": []}
        for round_no in range(1, rounds + 1):
            for side, url in urls.items():  # alternate, so drift on a shared box hits both
                run = wrk(url, service.token, seconds=seconds, connections=connections)
                figures[side].append(run.per_s)
            mine, theirs = figures["ours"][-1], figures["floor"][-1]
            print(
                f"  read round {round_no}: ours {mine:.0f} req/s, floor {theirs:.0f} req/s, "
                f"ratio {mine / theirs:.2f}",
                flush=True,
            )
    return ReadFigures(figures["ours"], figures["floor"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--customers", type=int, default=200)
    args = parser.parse_args()
    require_wrk()
    with log_dir() as logs, crm_run(logs) as service:
        reads = measure_reads(service, args.rounds, args.duration, args.connections, args.customers)
    mine, theirs = statistics.median(reads.ours), statistics.median(reads.floor)
    print(
        f"load detail: ours {mine:.0f} req/s, floor {theirs:.0f} req/s, "
        f"ratio {reads.ratio:.2f} (target >= {TARGET})"
    )
    print(f"(wrk -t1 -c{args.connections} -d{args.duration}s, medians of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
