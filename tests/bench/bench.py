"""`make bench`: HTTP writes and reads on `crm run` (embedded mode: a real Kafka-protocol
broker, Tansu, as its child process) against floors built from the same libraries, same run.

Writes: POST /api/v1/crm/customers (publish the command over Kafka → worker → store →
the facade reads the result → 201) vs `tests.bench.write_floor`. Reads: `make load`'s
GET customer detail vs a bare FastAPI route (`tests.bench.load`). The machine is shared and
noisy, so each side and its floor alternate, round after round, and medians are compared.
What each figure measures: docs/performance.md. Run: `.venv/bin/python -m tests.bench.bench`.
"""

import argparse
import statistics

from tests.bench.load import TARGET as READ_TARGET
from tests.bench.load import ReadFigures, measure_reads
from tests.bench.processes import crm_run, log_dir
from tests.bench.writes import SIDES, WriteFigures, measure_writes
from tests.bench.wrk import require_wrk

WRITES_PER_S_TARGET = ("≥", 0.5)  # ours / floor, median writes per second
WRITE_P99_TARGET = ("≤", 2.0)  # ours / floor, median p99 latency


def verdict(value: float, target: tuple[str, float]) -> str:
    sign, bound = target
    ok = value >= bound if sign == "≥" else value <= bound
    return f"target {sign} {bound}: {'MET' if ok else 'MISSED'}"


def each(values: list[float]) -> str:
    return f"   (each round: {' '.join(f'{v:.2f}' for v in values)})"


def report(writes: WriteFigures, reads: ReadFigures | None) -> None:
    for side in SIDES:
        print(
            f"writes {side:5s}  {writes.median(side, 'per_s'):7.1f} writes/s   "
            f"p50 {writes.median(side, 'p50_ms'):6.1f} ms   "
            f"p99 {writes.median(side, 'p99_ms'):6.1f} ms   CPU a write: "
            f"server {writes.median(side, 'server_cpu_ms'):4.2f} ms, "
            f"broker {writes.median(side, 'broker_cpu_ms'):4.2f} ms"
        )
    ours, floor = writes.rounds["ours"], writes.rounds["floor"]
    throughput = writes.median("ours", "per_s") / writes.median("floor", "per_s")
    p99 = writes.median("ours", "p99_ms") / writes.median("floor", "p99_ms")
    per_round = [o.per_s / f.per_s for o, f in zip(ours, floor, strict=True)]
    p99_per_round = [o.p99_ms / f.p99_ms for o, f in zip(ours, floor, strict=True)]
    print(
        f"{'write throughput (ours/floor writes/s)':40s} {throughput:6.2f}   "
        f"{verdict(throughput, WRITES_PER_S_TARGET)}{each(per_round)}"
    )
    print(
        f"{'write p99 (ours/floor p99)':40s} {p99:6.2f}   "
        f"{verdict(p99, WRITE_P99_TARGET)}{each(p99_per_round)}"
    )
    if reads is None:
        return
    print(
        f"reads  ours   {statistics.median(reads.ours):7.0f} req/s    "
        f"floor {statistics.median(reads.floor):7.0f} req/s"
    )
    read_rounds = [o / f for o, f in zip(reads.ours, reads.floor, strict=True)]
    print(
        f"{'read detail (ours/floor req/s)':40s} {reads.ratio:6.2f}   "
        f"{verdict(reads.ratio, ('≥', READ_TARGET))}{each(read_rounds)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per figure")
    parser.add_argument("--write-seconds", type=int, default=8, help="seconds per write run")
    parser.add_argument("--read-seconds", type=int, default=8, help="seconds per read run")
    parser.add_argument("--connections", type=int, default=16, help="concurrent clients")
    parser.add_argument("--customers", type=int, default=200, help="seeded for the reads")
    parser.add_argument("--no-reads", action="store_true", help="the write figures only")
    args = parser.parse_args()
    require_wrk()
    with log_dir() as logs:
        print("writes: `crm run` vs the write floor", flush=True)
        with crm_run(logs, "crm-writes") as service:
            writes = measure_writes(service, args.rounds, args.write_seconds, args.connections)
        reads = None
        if not args.no_reads:
            print("reads (`make load`): a fresh `crm run` vs the read floor", flush=True)
            with crm_run(logs, "crm-reads") as service:
                reads = measure_reads(
                    service, args.rounds, args.read_seconds, args.connections, args.customers
                )
    print(
        f"figures: medians of {args.rounds} alternating rounds, wrk -t1 -c{args.connections}, "
        f"{args.write_seconds} s a write run, {args.read_seconds} s a read run"
    )
    report(writes, reads)


if __name__ == "__main__":
    main()
