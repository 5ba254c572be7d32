"""`make profile`: where the time of the benchmark's command and import paths goes.

Runs 300 `customer.create` commands and three 1000-item imports (through the API) on the
embedded backends with 2000 stored customers, under cProfile, and prints the top lines
of each by own time. Run: `.venv/bin/python -m tests.bench.profile [--top N]`.
"""

import argparse
import asyncio
import cProfile
import io
import pstats
import uuid
from collections.abc import Awaitable, Callable

from crm.runtime import Runtime
from crm.web import facade_context
from http_facade.app import create_app
from tests.bench.bench import TENANT, client_for, create_commands, seed
from tests.conftest import embedded_settings
from tests.helpers import auth


def importer(runtime: Runtime) -> Callable[[], Awaitable[None]]:
    client = client_for(create_app(facade_context(runtime)))

    async def one_import() -> None:
        headers = auth(("customers.write",), tenant=TENANT, request_id=str(uuid.uuid4()))
        items = [{"name": f"Imported {uuid.uuid4()}", "phone": "13812345678"} for _ in range(1000)]
        response = await client.post(
            "/api/v1/crm/customers/import", json={"items": items}, headers=headers
        )
        response.raise_for_status()
        await runtime.relay.run_once()  # untimed in the bench; profiled here too

    return one_import


async def profiled(work: Callable[[], Awaitable[None]], top: int, title: str) -> None:
    profile = cProfile.Profile()
    profile.enable()
    await work()
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(top)
    print(f"== {title} ==")
    print(out.getvalue().strip())


async def run(top: int) -> None:
    runtime = Runtime(embedded_settings(relay_interval_s=60.0))
    await runtime.start()
    try:
        await seed(runtime, 2000)
        await create_commands(runtime, 50)  # warm
        await profiled(lambda: create_commands(runtime, 300), top, "300 customer.create commands")
        one_import = importer(runtime)
        await one_import()  # warm

        async def imports() -> None:
            for _ in range(3):
                await one_import()

        await profiled(imports, top, "3 imports of 1000 items (with their relay passes)")
    finally:
        await runtime.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--top", type=int, default=25)
    asyncio.run(run(parser.parse_args().top))


if __name__ == "__main__":
    main()
