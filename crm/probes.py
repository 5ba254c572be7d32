"""The worker's small HTTP endpoint: `/health` (liveness), `/ready` and `/internal/metrics`.

The worker has no web app; orchestrators still need to probe it and Prometheus to scrape
its Kafka metrics. A Starlette app served by uvicorn on a socket bound beforehand, without
uvicorn's signal handling (the worker owns SIGTERM: the probes answer until it has
stopped). GET and HEAD; anything else is 404 or 405.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from http_facade.metrics import METRICS_PATH, prometheus_text

log = logging.getLogger("crm.probes")
STOP_TIMEOUT_S = 2

Readiness = Callable[[], Awaitable[dict[str, bool]]]


def probe_app(readiness: Readiness) -> Starlette:
    """`/health`, `/ready` (503 unless every check is up) and the Prometheus text."""

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        checks = await readiness()
        up = all(checks.values())
        body = {"status": "ready" if up else "not_ready"}
        body.update({name: "up" if ok else "down" for name, ok in checks.items()})
        return JSONResponse(body, status_code=200 if up else 503)

    async def metrics(_: Request) -> Response:
        return Response(prometheus_text(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[Route("/health", health), Route("/ready", ready), Route(METRICS_PATH, metrics)]
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave SIGTERM and SIGINT to the worker (`crm.cli`)."""
        yield


class ProbeServer:
    def __init__(self, readiness: Readiness, sock: socket.socket) -> None:
        """`sock`: bound, so that a port in use stops start-up before anything else."""
        self._sock = sock
        config = uvicorn.Config(
            probe_app(readiness),
            lifespan="off",
            log_config=None,  # our JSON handler (crm.logging_setup) owns logging
            log_level="warning",  # no start and stop lines of uvicorn's in the worker's log
            access_log=False,
            timeout_graceful_shutdown=STOP_TIMEOUT_S,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    async def start(self) -> None:
        """Listening at once (connections wait in the backlog while uvicorn starts up)."""
        self._sock.listen()
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        host = self._sock.getsockname()[0]
        log.info(
            "worker probes on http://%s:%d (/health, /ready, %s)", host, self.port, METRICS_PATH
        )

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None
