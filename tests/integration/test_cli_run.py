"""`crm run` as a new user runs it: the embedded broker and the API come up, the banner
says where, SIGTERM stops both; a port in use stops start-up with one line, before anything
is printed as ready."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crm.embedded_kafka import port_in_use
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(90)


def crm_run(env: dict[str, str]) -> "subprocess.Popen[str]":
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    return subprocess.Popen(
        [sys.executable, "-m", "crm.cli", "run"],
        cwd=ROOT,
        # memory only: a test never writes into (or locks) the checkout's `.crm-data/`
        env={**clean, "CRM_LOG_FORMAT": "text", "CRM_DATA_DIR": "", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_run_serves_prints_the_broker_address_and_stops_on_sigterm() -> None:
    kafka_port, http_port = free_port(), free_port()
    process = crm_run({"CRM_EMBEDDED_KAFKA_PORT": str(kafka_port), "CRM_HTTP_PORT": str(http_port)})
    try:
        assert process.stdout is not None
        banner = []
        deadline = time.monotonic() + 60
        while not any(line.startswith("  curl") for line in banner):
            line = process.stdout.readline()
            assert line or process.poll() is None, process.communicate()
            banner.append(line)
            assert time.monotonic() < deadline, banner
        text = "".join(banner)
        assert f"CRM service ready on http://127.0.0.1:{http_port}" in text
        assert f"127.0.0.1:{kafka_port}" in text  # where outside Kafka clients connect
        health = httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=5)
        assert health.status_code == 200, health.text
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down gracefully (exit status -15)
        assert process.wait(30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
        _, err = process.communicate()
    assert "all stopped" in err  # the runtime's graceful stop ran to its end
    assert not port_in_use("127.0.0.1", kafka_port)  # the broker stopped with the service


@pytest.mark.parametrize("variable", ["CRM_EMBEDDED_KAFKA_PORT", "CRM_HTTP_PORT"])
def test_a_port_in_use_exits_with_one_line_and_nothing_printed_as_ready(
    variable: str, taken_port: int
) -> None:
    env = {"CRM_EMBEDDED_KAFKA_PORT": str(free_port()), "CRM_HTTP_PORT": str(free_port())}
    env[variable] = str(taken_port)
    process = crm_run(env)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "ready" not in out
    [refusal] = [line for line in err.splitlines() if "refusing to start" in line]
    assert variable in refusal
    assert str(taken_port) in refusal


def test_the_http_socket_says_it_is_tcp_so_answers_are_not_delayed() -> None:
    """asyncio sets TCP_NODELAY on accepted connections only when the listening socket's
    protocol is IPPROTO_TCP; a socket made with protocol 0 left every keep-alive answer
    waiting ~40 ms for the client's delayed ACK (reads fell from ~1500/s to 22/s)."""
    from crm.cli import _http_socket
    from crm.settings import Settings

    sock = _http_socket(Settings(http_port=free_port()))
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_a_short_secret_is_refused_in_embedded_mode_too() -> None:
    process = crm_run(
        {
            "CRM_JWT_SECRET": "too-short-secret",
            "CRM_EMBEDDED_KAFKA_PORT": str(free_port()),
            "CRM_HTTP_PORT": str(free_port()),
        }
    )
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2  # configuration: fix it, do not restart
    assert "ready" not in out
    [refusal] = [line for line in err.splitlines() if "refusing to start" in line]
    assert "CRM_JWT_SECRET must be at least 32 characters" in refusal
    assert "too-short-secret" not in err
