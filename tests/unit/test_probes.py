"""The worker's probe server: same paths and answers as before, on its own socket."""

import socket

import httpx

from crm.probes import ProbeServer, probe_app

CHECKS = {"started": True, "broker": True, "store": True}


async def answer(checks: dict[str, bool], method: str, path: str) -> httpx.Response:
    async def readiness() -> dict[str, bool]:
        return checks

    transport = httpx.ASGITransport(app=probe_app(readiness))
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        return await client.request(method, path)


async def test_health_and_ready() -> None:
    health = await answer(CHECKS, "GET", "/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await answer(CHECKS, "GET", "/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "started": "up", "broker": "up", "store": "up"}


async def test_not_ready_is_503_and_names_what_is_down() -> None:
    ready = await answer({**CHECKS, "broker": False}, "GET", "/ready")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not_ready",
        "started": "up",
        "broker": "down",
        "store": "up",
    }


async def test_metrics_head_and_the_rest() -> None:
    metrics = await answer(CHECKS, "GET", "/internal/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "python_info" in metrics.text or "process_cpu_seconds_total" in metrics.text
    head = await answer(CHECKS, "HEAD", "/health")
    assert (head.status_code, head.content) == (200, b"")
    assert (await answer(CHECKS, "POST", "/health")).status_code == 405
    assert (await answer(CHECKS, "GET", "/nope")).status_code == 404


async def test_the_server_answers_on_its_socket_until_stopped() -> None:
    async def readiness() -> dict[str, bool]:
        return CHECKS

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    probes = ProbeServer(readiness, sock)
    await probes.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{probes.port}") as client:
            assert (await client.get("/health")).json() == {"status": "ok"}
    finally:
        await probes.stop()
    assert sock.fileno() == -1  # closed
