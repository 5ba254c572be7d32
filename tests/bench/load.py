"""`make load`: HTTP load with wrk, GET customer detail on `crm run` vs a bare FastAPI floor.

The check a reviewer runs by hand: start the service as `make run` does (embedded mode
unless CRM_KAFKA_URL / CRM_MONGO_URL say otherwise), seed customers through the public API,
then alternate wrk runs against our detail route and against the floor, round by round,
and compare the median requests per second. Run: `.venv/bin/python -m tests.bench.load`.

The floor is a separate uvicorn process with uvicorn's defaults (same loop and HTTP
implementation uvicorn picks for us, its access log on) serving one FastAPI route at the
same path, returning the same JSON document (parsed once at start-up, returned as a dict
so FastAPI serialises it like any route). It includes HTTP parsing, routing and JSON
serialisation; it excludes auth (the token is sent but ignored), the store, tenancy,
masking, the envelope and every middleware. Both sides get byte-identical requests.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
from fastapi import FastAPI

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DETAIL = "/api/v1/api/customers"
BODY_ENV = "CRM_LOAD_FLOOR_BODY"  # the floor's document, handed over by environment
TARGET = 0.6
T = TypeVar("T")


def bare_app() -> FastAPI:
    """The floor (a uvicorn factory): one route, no auth, no store, no middleware."""
    document: dict[str, Any] = json.loads(os.environ[BODY_ENV])
    app = FastAPI()

    @app.get(DETAIL + "/{customer_id}")
    async def detail(customer_id: str) -> dict[str, Any]:
        return document

    return app


def start(
    args: list[str], env: dict[str, str], out: IO[bytes], err: IO[bytes]
) -> subprocess.Popen[bytes]:
    # Output goes to files, never to a pipe nobody reads (a full pipe would block the server).
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=err)


def stop(proc: subprocess.Popen[bytes]) -> None:
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
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if result := ready():
                return result
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.2)
    sys.exit(f"{what} not ready within 60 s:\n{log.read_text()[-3000:]}")


def dev_token(stdout: Path) -> str | None:
    """The line after "Dev token" in `crm run`'s quick start (cli._print_quickstart)."""
    lines = stdout.read_text(errors="replace").splitlines()
    for line, following in pairwise(lines):
        if line.startswith("Dev token") and following.strip():
            return following.strip()
    return None


def seed(client: httpx.Client, count: int) -> str:
    """Create customers as a user would; returns the id of one in the middle."""
    ids = []
    for i in range(count):
        body = {"name": f"Load Customer {i + 1}", "phone": f"138{i:08d}"}
        answer = client.post(DETAIL, json=body, headers={"X-Request-ID": str(uuid.uuid4())})
        if answer.status_code == 202:  # decided but not applied yet: follow the command
            location = answer.headers["Location"]
            while (status := client.get(location).json())["status"] == "pending":
                time.sleep(0.05)
            ids.append(status["entityId"])
        elif answer.status_code == 201:
            ids.append(answer.json()["data"]["id"])
        else:
            sys.exit(f"seeding failed: POST {DETAIL} -> {answer.status_code} {answer.text}")
    return str(ids[count // 2])


def wrk(url: str, token: str, seconds: int, connections: int) -> float:
    """Requests/sec of one wrk run; exits on any error response or socket error."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    command += ["-H", f"Authorization: Bearer {token}", url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    # A ratio over error answers would be meaningless: stop loudly instead.
    if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
        sys.exit(f"!!! wrk saw errors against {url}, no figure:\n{out}")
    found = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if found is None:
        sys.exit(f"!!! cannot read Requests/sec from wrk:\n{out}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--customers", type=int, default=200)
    args = parser.parse_args()
    try:
        subprocess.run(["wrk", "--version"], capture_output=True, check=False)
    except FileNotFoundError:
        sys.exit("wrk not found: run `make load` (it installs wrk) or `apt-get install wrk`")

    logs = Path(tempfile.mkdtemp(prefix="crm-load-"))
    ours_log, floor_log = logs / "crm.log", logs / "floor.log"
    ours_port, floor_port = free_port(), free_port()  # 8001 may be taken by a `make run`
    env = {**os.environ, "CRM_HTTP_PORT": str(ours_port), "CRM_WORKER_HTTP_PORT": "0"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # `crm run` prints the quick start on stdout and logs on stderr: keep them apart.
        with (logs / "stdout").open("wb") as out, ours_log.open("wb") as err:
            ours = start([str(BIN / "crm"), "run"], env, out, err)
        procs.append(ours)
        base = f"http://127.0.0.1:{ours_port}"
        with httpx.Client(base_url=base, timeout=10) as probe:
            wait_until(lambda: probe.get("/health").status_code == 200, ours, "crm run", ours_log)
        token = wait_until(lambda: dev_token(logs / "stdout"), ours, "crm run", ours_log)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            customer_id = seed(client, args.customers)
            detail = client.get(f"{DETAIL}/{customer_id}")
        if detail.status_code != 200:
            sys.exit(f"GET {DETAIL}/{customer_id} -> {detail.status_code} {detail.text}")
        print(f"seeded {args.customers} customers; detail body {len(detail.content)} bytes")

        floor_env = {**os.environ, BODY_ENV: detail.content.decode()}
        floor_cmd = [sys.executable, "-m", "uvicorn", "--factory", "tests.bench.load:bare_app"]
        with floor_log.open("wb") as out:
            floor = start([*floor_cmd, "--port", str(floor_port)], floor_env, out, out)
        procs.append(floor)
        floor_base = f"http://127.0.0.1:{floor_port}"
        with httpx.Client(base_url=floor_base, timeout=10) as probe:
            answer = wait_until(lambda: probe.get(f"{DETAIL}/x"), floor, "floor", floor_log)
        if answer.status_code != 200 or answer.json() != detail.json():
            sys.exit(f"the floor does not answer our document: {answer.status_code} {answer.text}")

        urls = {"ours": base + f"{DETAIL}/{customer_id}", "floor": floor_base + f"{DETAIL}/x"}
        for url in urls.values():  # warm-up: first-request costs, connection set-up
            wrk(url, token, 1, args.connections)
        figures: dict[str, list[float]] = {"ours": [], "floor": []}
        for round_no in range(1, args.rounds + 1):
            for side, url in urls.items():  # alternate, so drift on a shared box hits both
                figures[side].append(wrk(url, token, args.duration, args.connections))
            mine, floor_rps = figures["ours"][-1], figures["floor"][-1]
            print(
                f"round {round_no}: ours {mine:.0f} req/s, floor {floor_rps:.0f} req/s, "
                f"ratio {mine / floor_rps:.2f}"
            )
    finally:
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(logs, ignore_errors=True)  # failures above already printed their tail
    mine, floor_rps = statistics.median(figures["ours"]), statistics.median(figures["floor"])
    print(
        f"load detail: ours {mine:.0f} req/s, floor {floor_rps:.0f} req/s, "
        f"ratio {mine / floor_rps:.2f} (target >= {TARGET})"
    )
    print(f"(wrk -t1 -c{args.connections} -d{args.duration}s, medians of {args.rounds} rounds)")


if __name__ == "__main__":
    main()
