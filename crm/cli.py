"""`crm run | api | worker | token`: the service's processes and the dev token minting."""

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import NoReturn

import uvicorn
from pydantic import ValidationError

from crm import topic_cli
from crm.bootstrap import Role, bootstrap
from crm.contracts import write_contracts
from crm.logging_setup import configure_logging
from crm.probes import ProbeServer
from crm.runtime import Runtime
from crm.settings import ConfigurationError, Settings
from crm.startup import StartupError
from crm.web import build_app
from http_facade.auth import mint_token

DEV_PERMISSIONS = [
    "customers.read",
    "customers.write",
    "customers.pii",
    "crm.read",
    "crm.write",
]
EXIT_CONFIGURATION = 2  # the environment is unsafe or malformed: fix it, do not restart
EXIT_UNAVAILABLE = 1  # a dependency stayed unreachable through every start-up attempt
GC_YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython: 700)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
ROLES: dict[str, Role] = {"run": "all", "api": "api", "worker": "worker"}
log = logging.getLogger("crm")


def _refuse(message: str, code: int) -> NoReturn:
    log.critical("refusing to start: %s", message)
    sys.exit(code)


def _production_settings(settings: Settings) -> Settings:
    try:
        settings.validate_for_production()
    except ConfigurationError as exc:
        _refuse(str(exc), EXIT_CONFIGURATION)
    return settings


async def _start_unless_stopped(runtime: Runtime, stop: asyncio.Event) -> bool:
    """Start the runtime; a stop signal during the (retrying) start-up abandons it."""
    starting = asyncio.ensure_future(runtime.start())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if starting.done():
        starting.result()  # StartupError propagates
        return True
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    log.info("stop requested during start-up")
    return False


def _on_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)


def _off_stop_signals() -> None:
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.remove_signal_handler(sig)


def _http_socket(settings: Settings) -> socket.socket:
    """The facade's listening socket, bound before anything starts: a port in use stops
    start-up with one line, before anything is printed as ready."""
    return _listening_socket(
        settings.http_host, settings.http_port, "for HTTP (CRM_HTTP_HOST / CRM_HTTP_PORT)"
    )


def _listening_socket(host: str, port: int, purpose: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns TCP_NODELAY on only for sockets that say they are
    # TCP, and without it every keep-alive answer waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(
            f"cannot listen on {host}:{port} {purpose}: {exc.strerror or exc}"
        ) from None
    sock.set_inheritable(True)
    return sock


async def _serve(settings: Settings, role: Role) -> None:
    """The facade (`api`), or facade + worker (`run`): connect first, then serve HTTP.

    Uvicorn owns SIGTERM once serving: it stops accepting, finishes in-flight requests
    (bounded by CRM_SHUTDOWN_TIMEOUT_S), then the lifespan stops the runtime.
    """
    sock = _http_socket(settings)
    runtime = Runtime(bootstrap(settings, role))
    app = build_app(runtime)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,  # our JSON handler (crm.logging_setup) already owns logging
            access_log=False,  # the facade writes its own access line (route templates only)
            timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        )
    )
    stop = asyncio.Event()
    _on_stop_signals(stop)
    try:
        started = await _start_unless_stopped(runtime, stop)
    except BaseException:
        await runtime.stop()
        raise
    finally:
        _off_stop_signals()
    if not started:
        await runtime.stop()
        sock.close()
        return
    _freeze_startup_objects()  # before "ready" is printed: it takes a moment
    if role == "all":
        _print_quickstart(settings)
    try:
        await server.serve(sockets=[sock])
    finally:
        await runtime.stop()  # a no-op after the lifespan stopped it


def _freeze_startup_objects() -> None:
    """Leave what start-up built (modules, classes, the app, the clients: ~135,000
    tracked objects, most of the heap) out of every later garbage collection.

    Python's full (generation 2) collection walks every tracked object, and it runs each
    time the objects that survived younger collections grow by a quarter of the old ones;
    under load those are mostly short-lived (requests kept ~30 ms by the waits), so it ran
    every few seconds and stopped the event loop for 150–375 ms each time: the writes'
    p99 (`make bench`: 14 such collections in a run, 1.7 s of pauses;
    docs/performance.md). Objects frozen here are never freed by the collector, only by
    reference counting: start-up's are kept for the process's life anyway.

    And young collections every `GC_YOUNG_THRESHOLD` allocations instead of 700: at 700
    one ran every fraction of a millisecond, so a request's objects (alive for the ~30 ms
    it waits) were promoted and counted towards the next full collection. Measured
    (`make bench` writes, 3 rounds): full collections 15 → 3 a run, all collections
    1.4 s → 0.26 s of pauses, p99 ratio 1.46 → 1.22 (docs/performance.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def _run_worker(settings: Settings) -> None:
    """Consume until SIGTERM/SIGINT, then stop gracefully: no new messages, in-flight ones
    finish and are committed, their events are relayed, the clients close."""
    runtime = Runtime(bootstrap(settings, "worker"))
    stop = asyncio.Event()
    _on_stop_signals(stop)
    probes = None
    if settings.worker_http_port:
        sock = _listening_socket(
            settings.http_host,
            settings.worker_http_port,
            "for the worker probes (CRM_WORKER_HTTP_PORT)",
        )
        probes = ProbeServer(runtime.readiness, sock)
        await probes.start()
    try:
        if await _start_unless_stopped(runtime, stop):
            log.info(
                "worker consuming %s and %s as group %s",
                settings.topics.commands,
                settings.topics.integration_events,
                settings.consumer_group,
            )
            await stop.wait()
            log.info("stop signal: finishing in-flight messages, then closing")
    finally:
        await runtime.stop()
        if probes is not None:
            await probes.stop()
        _off_stop_signals()


def _print_quickstart(settings: Settings) -> None:
    token = mint_token(
        settings.effective_jwt_secret,
        sub="dev-user",
        tenant="dev-tenant",
        permissions=DEV_PERMISSIONS,
    )
    base = f"http://{settings.http_host}:{settings.http_port}"
    kafka = ",".join(settings.kafka_servers)
    broker = "embedded Kafka broker (Tansu)" if settings.embedded_broker else "Kafka"
    store = "MongoDB"
    if settings.embedded_store:
        store = "in-memory store"
        if settings.data_dir is not None:
            store += f" kept in {settings.data_dir}/ (CRM_DATA_DIR)"
    print(f"CRM service ready on {base}")
    print(f"{broker} at {kafka} (any Kafka client can produce and consume), {store}")
    print(f"Dev token (tenant dev-tenant, 12 h, all permissions):\n  {token}\n")
    print("Try:")
    print(
        f"  curl -s -X POST {base}/api/v1/api/customers -H 'Authorization: Bearer {token}' "
        '-H \'Content-Type: application/json\' -d \'{"name": "Acme Ltd", "phone": "13812345678"}\''
    )
    print(f"  API docs: {base}/docs\n", flush=True)


def _token(args: argparse.Namespace, settings: Settings) -> None:
    try:
        secret = settings.effective_jwt_secret
    except ConfigurationError as exc:
        sys.exit(f"crm token: {exc}")
    permissions = [p.strip() for p in args.perm.split(",") if p.strip()]
    print(
        mint_token(
            secret, sub=args.sub, tenant=args.tenant, permissions=permissions, ttl_s=args.ttl
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="crm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="facade + worker in one process (embedded by default)")
    commands.add_parser("api", help="the HTTP facade")
    commands.add_parser("worker", help="the Kafka worker and outbox relay")
    token = commands.add_parser("token", help="print a dev token for CRM_JWT_SECRET")
    token.add_argument("--sub", required=True)
    token.add_argument("--tenant", required=True)
    token.add_argument("--perm", default="customers.read,customers.write")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds")
    publish = commands.add_parser("publish", help="send commands/integration events from a file")
    publish.add_argument("file", type=Path, help="a JSON object, array or JSON Lines file")
    publish.add_argument("--topic", help="override the topic chosen from the message kind")
    tail_cmd = commands.add_parser("tail", help="print change events as they arrive")
    tail_cmd.add_argument("--from-beginning", action="store_true")
    contracts = commands.add_parser("contracts", help="write api_contract.yaml and asyncapi.yaml")
    contracts.add_argument("--dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    role = ROLES.get(args.command, args.command)
    try:
        settings = Settings()
    except ValidationError as exc:
        configure_logging(role=role)
        problems = "; ".join(
            f"CRM_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        _refuse(f"invalid environment: {problems}", EXIT_CONFIGURATION)
    configure_logging(
        role=role,
        level=settings.log_level,
        fmt=settings.log_format,
        secrets=[settings.jwt_secret or ""],
    )
    try:
        _dispatch(args, settings)
    except StartupError as exc:
        _refuse(str(exc), EXIT_UNAVAILABLE)


def _dispatch(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "token":
        _token(args, settings)
    elif args.command == "publish":
        asyncio.run(topic_cli.publish_file(settings, args.file, args.topic))
    elif args.command == "tail":
        asyncio.run(topic_cli.tail(settings, args.from_beginning))
    elif args.command == "contracts":
        for path in write_contracts(args.dir):
            print(f"wrote {path}")
    elif args.command == "worker":
        asyncio.run(_run_worker(_production_settings(settings)))
    else:
        _production_settings(settings)
        asyncio.run(_serve(settings, ROLES[args.command]))


if __name__ == "__main__":
    main()
