"""`crm run | api | worker | token`: the service's processes and the dev token minting."""

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import uvicorn

from crm import topic_cli
from crm.contracts import write_contracts
from crm.runtime import Runtime
from crm.settings import ConfigurationError, Settings
from crm.web import build_app
from http_facade.auth import mint_token

DEV_PERMISSIONS = [
    "customers.read",
    "customers.write",
    "customers.pii",
    "crm.read",
    "crm.write",
]
log = logging.getLogger("crm")


def _settings() -> Settings:
    settings = Settings()
    try:
        settings.validate_for_production()
    except ConfigurationError as exc:
        sys.exit(f"crm: refusing to start: {exc}")
    return settings


def _serve(settings: Settings, role: str) -> None:
    runtime = Runtime(settings, role="all" if role == "run" else "api")
    app = build_app(runtime)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="info")


def _print_quickstart(settings: Settings) -> None:
    token = mint_token(
        settings.effective_jwt_secret,
        sub="dev-user",
        tenant="dev-tenant",
        permissions=DEV_PERMISSIONS,
    )
    base = f"http://{settings.http_host}:{settings.http_port}"
    mode = (
        "embedded (in-process broker, in-memory store)"
        if settings.embedded
        else "configured backends"
    )
    print(f"CRM service starting in {mode} on {base}")
    print(f"Dev token (tenant dev-tenant, 12 h, all permissions):\n  {token}\n")
    print("Try:")
    print(
        f"  curl -s -X POST {base}/api/v1/api/customers -H 'Authorization: Bearer {token}' "
        '-H \'Content-Type: application/json\' -d \'{"name": "Acme Ltd", "phone": "13812345678"}\''
    )
    print(f"  API docs: {base}/docs\n", flush=True)


async def _run_worker(settings: Settings) -> None:
    runtime = Runtime(settings, role="worker")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    log.info("worker started: consuming %s", settings.topics.commands)
    await stop.wait()
    log.info("stopping: finishing in-flight messages")
    await runtime.stop()


def _token(args: argparse.Namespace) -> None:
    settings = Settings()
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "token":
        _token(args)
    elif args.command == "publish":
        asyncio.run(topic_cli.publish_file(Settings(), args.file, args.topic))
    elif args.command == "tail":
        asyncio.run(topic_cli.tail(Settings(), args.from_beginning))
    elif args.command == "contracts":
        for path in write_contracts(args.dir):
            print(f"wrote {path}")
    elif args.command == "worker":
        asyncio.run(_run_worker(_settings()))
    else:
        settings = _settings()
        if args.command == "run":
            _print_quickstart(settings)
        _serve(settings, args.command)


if __name__ == "__main__":
    main()
