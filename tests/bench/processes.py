"""The processes a bench runs: `crm run` in embedded mode on free ports, a floor server,
and how to wait for them and stop them."""

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import IO, TypeVar

import httpx

from crm.embedded_kafka import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
READY_TIMEOUT_S = 60
T = TypeVar("T")


def start(
    args: list[str], env: dict[str, str], out: IO[bytes], err: IO[bytes]
) -> subprocess.Popen[bytes]:
    # Output goes to files, never to a pipe nobody reads (a full pipe would block the server).
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=err)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (`crm run` then stops its Tansu broker), SIGKILL if it does not end."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until(
    ready: Callable[[], T | None], proc: subprocess.Popen[bytes], what: str, log: Path
) -> T:
    """Poll `ready()` until it returns something truthy; fail fast if the process died."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if result := ready():
                return result
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.2)
    sys.exit(f"{what} not ready within {READY_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def dev_token(stdout: Path) -> str | None:
    """The line after "Dev token" in `crm run`'s quick start (cli._print_quickstart)."""
    lines = stdout.read_text(errors="replace").splitlines()
    for line, following in pairwise(lines):
        if line.startswith("Dev token") and following.strip():
            return following.strip()
    return None


@dataclass(frozen=True)
class Server:
    """A running HTTP server process: its base URL and process id."""

    base: str
    pid: int


@dataclass(frozen=True)
class Service(Server):
    """A running `crm run`: also its dev token, environment and log directory."""

    token: str
    env: dict[str, str]
    logs: Path


@contextmanager
def crm_run(logs: Path, name: str = "crm") -> Iterator[Service]:
    """`crm run` as a user starts it (embedded mode unless CRM_KAFKA_URL / CRM_MONGO_URL
    say otherwise), on free ports: 8001 and 9092 may be taken by someone's `make run`."""
    env = {
        **os.environ,
        "CRM_HTTP_PORT": str(free_port()),
        "CRM_EMBEDDED_KAFKA_PORT": str(free_port()),
        "CRM_WORKER_HTTP_PORT": "0",
        "CRM_DATA_DIR": "",  # memory only: never the user's `.crm-data/` (nor its lock)
    }
    stdout, stderr = logs / f"{name}.stdout", logs / f"{name}.log"
    # `crm run` prints the quick start on stdout and logs on stderr: keep them apart.
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = start([str(BIN / "crm"), "run"], env, out, err)
    try:
        base = f"http://127.0.0.1:{env['CRM_HTTP_PORT']}"
        with httpx.Client(base_url=base, timeout=10) as probe:
            wait_until(lambda: probe.get("/health").status_code == 200, proc, "crm run", stderr)
        token = wait_until(lambda: dev_token(stdout), proc, "crm run", stderr)
        yield Service(base, proc.pid, token, env, logs)
    finally:
        stop(proc)


@contextmanager
def uvicorn_factory(
    factory: str, env: dict[str, str], log: Path, ready_path: str
) -> Iterator[Server]:
    """A floor app (`module:function`) under uvicorn with its defaults, on a free port,
    once `ready_path` answers 200."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(port)]
    with log.open("wb") as out:
        proc = start(command, env, out, out)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as probe:
            wait_until(lambda: probe.get(ready_path).status_code == 200, proc, factory, log)
        yield Server(base, proc.pid)
    finally:
        stop(proc)


@contextmanager
def log_dir() -> Iterator[Path]:
    """A directory for the processes' output; kept (and named) only when a run fails."""
    logs = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    try:
        yield logs
    except BaseException:
        print(f"(process logs kept in {logs})", file=sys.stderr)
        raise
    for path in logs.iterdir():
        path.unlink()
    logs.rmdir()
