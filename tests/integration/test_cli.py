"""`crm api` / `crm worker` start-up and shutdown, through the CLI.

Refusals and the MongoDB retry path run in-process (`crm.cli.main`); the Kafka retry path
and SIGTERM run the real `crm worker` process, both launched at once to save time.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm import cli
from crm.settings import EMBEDDED_DEV_SECRET
from tests.helpers import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]
SHORT_SECRET = "too-short-secret"


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line is one JSON object (fails on any other line)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def crm_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("CRM_"):
            monkeypatch.delenv(name)
    return monkeypatch


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict]]:
    with pytest.raises(SystemExit) as exited:
        cli.main(args)
    code = exited.value.code
    return (code if isinstance(code, int) else 1), json_lines(capsys.readouterr().err)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("command", ["api", "worker"])
@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"CRM_JWT_SECRET": ""}, "CRM_JWT_SECRET must be set to at least 32 characters"),
        ({"CRM_JWT_SECRET": SHORT_SECRET}, "CRM_JWT_SECRET must be set to at least 32"),
        ({"CRM_JWT_SECRET": EMBEDDED_DEV_SECRET}, "public embedded-mode dev secret"),
        ({"CRM_KAFKA_URL": "kafka://broker:9092"}, "CRM_KAFKA_URL must be host:port"),
        ({"CRM_MONGO_URL": "mongodb://crm:hunter2@db:99999"}, "CRM_MONGO_URL is malformed"),
        ({"CRM_MONGO_URL": "postgres://db"}, "CRM_MONGO_URL must be a mongodb://"),
        ({"CRM_REPLY_TIMEOUT_S": "soon"}, "invalid environment: CRM_REPLY_TIMEOUT_S"),
    ],
)
def test_refuses_to_start_with_a_clear_message(
    command: str,
    env: dict[str, str],
    complaint: str,
    crm_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = {
        "CRM_KAFKA_URL": "broker:9092",
        "CRM_MONGO_URL": "mongodb://db:27017",
        "CRM_JWT_SECRET": TEST_SECRET,
        **env,
    }
    for name, value in settings.items():
        crm_env.setenv(name, value)
    code, lines = run_cli([command], capsys)
    assert code == cli.EXIT_CONFIGURATION
    [refusal] = [line for line in lines if line["level"] == "CRITICAL"]
    assert refusal["message"].startswith("refusing to start: ")
    assert complaint in refusal["message"]
    raw = json.dumps(lines)
    assert "hunter2" not in raw
    assert SHORT_SECRET not in raw


@pytest.mark.usefixtures("restore_logging")
def test_api_retries_an_unreachable_store_then_exits_non_zero(
    crm_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    for name, value in {
        "CRM_KAFKA_URL": f"127.0.0.1:{free_port()}",
        "CRM_MONGO_URL": f"mongodb://crm:hunter2@127.0.0.1:{port}",
        "CRM_MONGO_TIMEOUT_S": "0.2",
        "CRM_JWT_SECRET": TEST_SECRET,
        "CRM_STARTUP_ATTEMPTS": "3",
        "CRM_STARTUP_BACKOFF_S": "0.01",
    }.items():
        crm_env.setenv(name, value)
    code, lines = run_cli(["api"], capsys)
    assert code == cli.EXIT_UNAVAILABLE
    attempts = [line for line in lines if line["logger"] == "crm.startup"]
    assert [(a["attempt"], a["attempts"], a["level"]) for a in attempts] == [
        (1, 3, "WARNING"),
        (2, 3, "WARNING"),
        (3, 3, "ERROR"),
    ]
    assert all(a["dependency"] == "MongoDB" for a in attempts)
    assert "retrying in" in attempts[0]["message"]
    [refusal] = [line for line in lines if line["level"] == "CRITICAL"]
    assert (
        f"could not connect to MongoDB at mongodb://crm:***@127.0.0.1:{port} after 3 attempts"
        in refusal["message"]
    )
    assert "hunter2" not in json.dumps(lines)


# -- real processes ----------------------------------------------------------------------


@dataclass
class Launched:
    process: "subprocess.Popen[str]"
    probe_port: int | None = None

    def finish(self, timeout: float = 30) -> tuple[int, list[dict[str, Any]]]:
        _, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, json_lines(err)


def launch(command: str, env: dict[str, str]) -> "subprocess.Popen[str]":
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    return subprocess.Popen(
        [sys.executable, "-m", "crm.cli", command],
        cwd=ROOT,
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def processes() -> Iterator[dict[str, Launched]]:
    """Both worker scenarios start together (they spend most of their time importing)."""
    probe_port = free_port()
    launched = {
        "unreachable": Launched(
            launch(
                "worker",
                {
                    "CRM_KAFKA_URL": f"127.0.0.1:{free_port()}",
                    "CRM_MONGO_URL": "memory",
                    "CRM_JWT_SECRET": TEST_SECRET,
                    "CRM_STARTUP_ATTEMPTS": "3",
                    "CRM_STARTUP_BACKOFF_S": "0.01",
                    "CRM_WORKER_HTTP_PORT": "0",
                },
            )
        ),
        "sigterm": Launched(
            launch(
                "worker",
                {
                    "CRM_WORKER_HTTP_PORT": str(probe_port),
                    "CRM_EMBEDDED_KAFKA_PORT": str(free_port()),
                },
            ),
            probe_port,
        ),
    }
    try:
        yield launched
    finally:
        for item in launched.values():
            if item.process.poll() is None:
                item.process.kill()
                item.process.communicate()


def test_worker_gives_up_on_an_unreachable_broker_after_bounded_attempts(
    processes: dict[str, Launched],
) -> None:
    code, lines = processes["unreachable"].finish()
    assert code == cli.EXIT_UNAVAILABLE
    attempts = [line for line in lines if line["logger"] == "crm.startup"]
    kafka = [a for a in attempts if a["dependency"] == "Kafka"]
    assert [(a["attempt"], a["level"]) for a in kafka] == [
        (1, "WARNING"),
        (2, "WARNING"),
        (3, "ERROR"),
    ]
    [refusal] = [line for line in lines if line["level"] == "CRITICAL"]
    assert "could not connect to Kafka at 127.0.0.1:" in refusal["message"]
    assert "after 3 attempts" in refusal["message"]
    assert all(line["role"] == "worker" for line in lines)


def test_worker_serves_probes_and_stops_gracefully_on_sigterm(
    processes: dict[str, Launched],
) -> None:
    launched = processes["sigterm"]
    base = f"http://127.0.0.1:{launched.probe_port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            ready = httpx.get(f"{base}/ready", timeout=1)
            if ready.status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert launched.process.poll() is None, launched.finish()
        assert time.monotonic() < deadline, "the worker never became ready"
        time.sleep(0.1)
    assert ready.json() == {"status": "ready", "started": "up", "broker": "up", "store": "up"}
    assert httpx.get(f"{base}/health", timeout=2).json() == {"status": "ok"}
    metrics = httpx.get(f"{base}/internal/metrics", timeout=2)
    assert metrics.status_code == 200
    assert "process_cpu_seconds_total" in metrics.text or "python_info" in metrics.text
    assert httpx.get(f"{base}/nope", timeout=2).status_code == 404

    launched.process.send_signal(signal.SIGTERM)
    code, lines = launched.finish()
    assert code == 0
    messages = [line["message"] for line in lines]
    assert any(m.startswith("worker consuming") for m in messages)
    assert any(m.startswith("stop signal") for m in messages)
    assert messages[-1] == "worker stopped"
