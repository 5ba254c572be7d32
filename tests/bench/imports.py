"""Seconds per 2000-item import on `crm run` (embedded mode), as the store grows.

Each import is one POST /api/v1/crm/customers/import of 2000 new customers (unique names),
through Kafka, the worker and the in-memory store; then one plain create, to show what a
single command costs at that size. The figures docs/embedded-store.md quotes come from here.
Run: `.venv/bin/python -m tests.bench.imports [--imports 5]`.
"""

import argparse
import time
import uuid

import httpx

from tests.bench.processes import crm_run, log_dir

ITEMS = 2000


def items(prefix: str) -> list[dict[str, str]]:
    return [
        {"name": f"{prefix}-{i}", "phone": f"+86138{i:08d}", "company": "ACME", "level": "A"}
        for i in range(ITEMS)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", type=int, default=5, help="successive imports")
    args = parser.parse_args()
    with log_dir() as logs, crm_run(logs) as crm:
        headers = {"Authorization": f"Bearer {crm.token}"}
        with httpx.Client(base_url=crm.base, headers=headers, timeout=120) as client:
            for round_ in range(1, args.imports + 1):
                body = {"items": items(uuid.uuid4().hex[:8])}
                started = time.perf_counter()
                answer = client.post(
                    "/api/v1/crm/customers/import",
                    json=body,
                    headers={"X-Request-ID": str(uuid.uuid4())},
                )
                took = time.perf_counter() - started
                answer.raise_for_status()
                created = answer.json()["created"]
                started = time.perf_counter()
                one = client.post(
                    "/api/v1/crm/customers",
                    json={"name": f"single-{uuid.uuid4().hex}"},
                    headers={"X-Request-ID": str(uuid.uuid4())},
                )
                single_ms = (time.perf_counter() - started) * 1000
                one.raise_for_status()
                size = round_ * (ITEMS + 1)
                print(
                    f"import {round_}: {created} created in {took:5.2f} s (store then {size} "
                    f"customers); one create {single_ms:5.1f} ms",
                    flush=True,
                )


if __name__ == "__main__":
    main()
