"""The write figures: HTTP creates through Kafka on `crm run` vs the write floor, same run.

`crm run` (embedded mode: its own Tansu broker on a free port, the in-memory store) and the
floor (`tests.bench.write_floor`, a separate uvicorn process on the same Tansu broker) are
loaded in turn by wrk: 16 connections, each POSTing a new customer (unique name and
X-Request-ID) as soon as its previous answer came. An untimed warm-up run each first, then
rounds of one run per side; each figure is the median over the rounds. Beside the times,
the CPU each run cost the side's server process and the shared broker, per write.
"""

import statistics
import uuid
from dataclasses import dataclass

from tests.bench.cpu import child_pids, cpu_seconds
from tests.bench.processes import Service, uvicorn_factory
from tests.bench.write_floor import PATH, READY_PATH
from tests.bench.wrk import UNIQUE_POSTS, WrkRun, wrk

SIDES = ("ours", "floor")


@dataclass(frozen=True)
class WriteRun:
    per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float  # CPU of the side's server process, per write
    broker_cpu_ms: float  # CPU of the Tansu broker, per write


@dataclass(frozen=True)
class WriteFigures:
    """Each round's run, per side."""

    rounds: dict[str, list[WriteRun]]

    def median(self, side: str, figure: str) -> float:
        return statistics.median(getattr(run, figure) for run in self.rounds[side])


def post_load(url: str, token: str, seconds: int, connections: int) -> WrkRun:
    """New customers, their ids prefixed by a fresh uuid so no two runs share one."""
    return wrk(
        url,
        token,
        seconds=seconds,
        connections=connections,
        script=UNIQUE_POSTS,
        script_args=(str(uuid.uuid4()),),
    )


def measured_run(
    url: str, token: str, seconds: int, connections: int, server: int, broker: int
) -> WriteRun:
    before = cpu_seconds(server), cpu_seconds(broker)
    run = post_load(url, token, seconds, connections)
    server_s, broker_s = cpu_seconds(server) - before[0], cpu_seconds(broker) - before[1]
    per_write_ms = 1000 / max(run.requests, 1)
    return WriteRun(
        run.per_s, run.p50_ms, run.p99_ms, server_s * per_write_ms, broker_s * per_write_ms
    )


def measure_writes(service: Service, rounds: int, seconds: int, connections: int) -> WriteFigures:
    """Alternating wrk runs against `service` and a floor started beside it."""
    [broker] = child_pids(service.pid)  # the embedded Tansu broker
    floor_log = service.logs / "write-floor.log"
    factory = "tests.bench.write_floor:floor_app"
    with uvicorn_factory(factory, service.env, floor_log, READY_PATH) as floor:
        servers = {"ours": service, "floor": floor}
        for server in servers.values():  # warm-up: first-request costs, connections
            post_load(server.base + PATH, service.token, 2, connections)
        figures: dict[str, list[WriteRun]] = {side: [] for side in SIDES}
        for round_no in range(1, rounds + 1):
            for side in SIDES:  # alternate, so drift on a shared machine hits both
                server = servers[side]
                figures[side].append(
                    measured_run(
                        server.base + PATH,
                        service.token,
                        seconds,
                        connections,
                        server.pid,
                        broker,
                    )
                )
            ours, theirs = figures["ours"][-1], figures["floor"][-1]
            print(
                f"  write round {round_no}: ours {ours.per_s:.0f}/s p99 {ours.p99_ms:.1f} ms, "
                f"floor {theirs.per_s:.0f}/s p99 {theirs.p99_ms:.1f} ms",
                flush=True,
            )
    return WriteFigures(figures)
