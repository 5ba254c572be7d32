"""The worker's small HTTP endpoint: `/health` (liveness), `/ready` and `/internal/metrics`.

The worker has no web app; orchestrators still need to probe it and Prometheus to scrape
its Kafka metrics. A minimal asyncio server does it without touching signal handling (the
worker owns SIGTERM). GET only, one request per connection, bounded request size.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from prometheus_client.exposition import CONTENT_TYPE_LATEST

from http_facade.metrics import METRICS_PATH, prometheus_text

log = logging.getLogger("crm.probes")
MAX_REQUEST_BYTES = 8192
READ_TIMEOUT_S = 5.0

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

Readiness = Callable[[], Awaitable[dict[str, bool]]]


class ProbeServer:
    def __init__(self, readiness: Readiness, host: str, port: int) -> None:
        self._readiness = readiness
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0 in tests)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info(
            "worker probes on http://%s:%d (/health, /ready, %s)",
            self._host,
            self.port,
            METRICS_PATH,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            status, content_type, body = await self._answer(head[:MAX_REQUEST_BYTES])
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            status, content_type, body = 400, "text/plain", b"bad request\n"
        except Exception:
            log.exception("probe request failed")
            status, content_type, body = 500, "text/plain", b"internal error\n"
        writer.write(
            f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + (b"" if head.startswith(b"HEAD ") else body)
        )
        with contextlib.suppress(Exception):
            await writer.drain()
            writer.close()
            await writer.wait_closed()

    async def _answer(self, head: bytes) -> tuple[int, str, bytes]:
        method, _, rest = head.decode("latin-1").partition(" ")
        path = rest.partition(" ")[0].partition("?")[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path == "/health":
            return 200, "application/json", b'{"status": "ok"}'
        if path == "/ready":
            checks = await self._readiness()
            ready = all(checks.values())
            body = {"status": "ready" if ready else "not_ready"}
            body.update({name: "up" if ok else "down" for name, ok in checks.items()})
            return (200 if ready else 503), "application/json", json.dumps(body).encode()
        if path == METRICS_PATH:
            return 200, CONTENT_TYPE_LATEST, prometheus_text()
        return 404, "text/plain", b"not found\n"
