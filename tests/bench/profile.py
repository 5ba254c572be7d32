"""`make profile`: where the embedded service's time goes under `make bench`'s write load
(or, with `--reads`, under its read load: GET customer detail, as `make load`).

Starts the service in this process as `crm run` does (the runtime with its own Tansu broker
on a free port and the in-memory store, `crm.web.build_app` under uvicorn, JSON logs, here
written to /dev/null), puts wrk's write load on it (16 connections POSTing new customers,
as `make bench` does) and prints cProfile's figures for this process's main thread (the
event loop: HTTP, Kafka clients, worker, relay; the broker is another process): own time
summed by package, then the top functions by own time. cProfile roughly halves the
throughput; the shares are what to read. Here uvicorn binds its own socket (TCP_NODELAY on),
unlike `crm run` today (docs/performance.md). Run: `.venv/bin/python -m tests.bench.profile`.
"""

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
from collections import Counter
from pathlib import Path

import httpx
import uvicorn

from crm.bootstrap import bootstrap
from crm.embedded_kafka import free_port
from crm.logging_setup import configure_logging
from crm.runtime import Runtime
from crm.settings import Settings
from crm.web import build_app
from http_facade.auth import mint_token
from tests.bench.load import DETAIL, seed
from tests.bench.write_floor import PATH
from tests.bench.writes import post_load
from tests.bench.wrk import WrkRun, wrk
from tests.helpers import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(os.__file__).parent
IDLE = "select.epoll"  # the event loop waiting for sockets: not work


def package_of(file_name: str) -> str:
    """`aiokafka`, `handlers`, `asyncio`, ... for a profiled function's file."""
    if "site-packages/" in file_name:
        return file_name.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    path = Path(file_name)
    for base, label in ((ROOT, "ours: {}"), (STDLIB, "stdlib: {}")):
        if path.is_relative_to(base):
            return label.format(path.relative_to(base).parts[0].removesuffix(".py"))
    return "C functions (socket calls, json, ...)" if file_name == "~" else file_name


def report(profile: cProfile.Profile, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    by_package: Counter[str] = Counter()
    idle = 0.0
    # Keyed by (file, line, name): get_stats_profile() would merge same-named functions.
    for (file_name, _, name), (_, _, own_s, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if IDLE in name:
            idle += own_s
        else:
            by_package[package_of(file_name)] += own_s
    busy = sum(by_package.values()) or 1.0
    print(f"== own time by package: {busy:.2f} s busy (and {idle:.2f} s waiting in epoll) ==")
    for package, seconds in by_package.most_common(20):
        print(f"{100 * seconds / busy:5.1f}%  {package}")
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    print(f"== top {top} functions by own time ==")
    print(out.getvalue().strip())


async def run(seconds: int, top: int, connections: int, reads: bool) -> None:
    settings = Settings(
        kafka_url=None,
        mongo_url=None,
        embedded_kafka_port=free_port(),
        http_port=free_port(),
        jwt_secret=TEST_SECRET,
        data_dir=None,  # a fresh store each run, nothing left behind
    )
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(Runtime(bootstrap(settings))),
            host="127.0.0.1",
            port=settings.http_port,
            log_config=None,
            access_log=False,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # start-up failed: raise its error
            sys.exit("the service stopped at start-up")
        await asyncio.sleep(0.05)
    permissions = ["customers.read", "customers.write"]
    token = mint_token(TEST_SECRET, sub="bench", tenant="bench", permissions=permissions)
    base = f"http://127.0.0.1:{settings.http_port}"
    url = f"{base}{PATH}"
    try:
        if reads:
            url = await asyncio.to_thread(seeded_detail_url, base, token)
        load_of = read_load if reads else post_load
        await asyncio.to_thread(load_of, url, token, 2, connections)  # warm-up
        profile = cProfile.Profile()
        profile.enable()  # this thread only: the event loop's
        load = await asyncio.to_thread(load_of, url, token, seconds, connections)
        profile.disable()
    finally:
        server.should_exit = True
        await serving
    print(
        f"under the profiler: {load.per_s:.0f} {'reads' if reads else 'writes'}/s, "
        f"p50 {load.p50_ms:.1f} ms, "
        f"p99 {load.p99_ms:.1f} ms (wrk -t1 -c{connections} -d{seconds}s)"
    )
    report(profile, top)


def seeded_detail_url(base: str, token: str) -> str:
    """Seeds customers as `make load` does; the detail URL of one of them."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        return f"{base}{DETAIL}/{seed(client, 200)}"


def read_load(url: str, token: str, seconds: int, connections: int) -> WrkRun:
    return wrk(url, token, seconds=seconds, connections=connections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="of profiled load")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--reads", action="store_true", help="GET customer detail, not POSTs")
    args = parser.parse_args()
    with open(os.devnull, "w") as logs:  # the log lines are formatted, then dropped
        configure_logging(role="all", stream=logs)
        asyncio.run(run(args.seconds, args.top, args.connections, args.reads))


if __name__ == "__main__":
    main()
