"""One wrk run and the figures read from its report: requests/s, p50 and p99 latency."""

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

UNIQUE_POSTS = Path(__file__).with_name("unique_posts.lua")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


@dataclass(frozen=True)
class WrkRun:
    requests: int  # answered
    per_s: float
    p50_ms: float
    p99_ms: float


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: `make bench` and `make load` install it, or `apt-get install wrk`")


def wrk(
    url: str,
    token: str,
    *,
    seconds: int,
    connections: int,
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
) -> WrkRun:
    """One closed-loop wrk run (one thread, `connections` clients); exits on any error
    answer, socket error or timeout, since a figure over failed requests means nothing."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    command += ["-H", f"Authorization: Bearer {token}"]
    if script is not None:
        command += ["-s", str(script)]
    command += [url]
    if script_args:
        command += ["--", *script_args]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    return read_report(out, url)


def read_report(out: str, url: str) -> WrkRun:
    """The figures of wrk's report (with `--latency`); exits on any failed request."""
    failed = "Non-2xx or 3xx responses" in out or "Socket errors" in out
    created = re.search(r"answers other than 201: (\d+)", out)
    if failed or (created is not None and int(created.group(1))):
        sys.exit(f"!!! wrk saw errors against {url}, no figure:\n{out}")
    answered = re.search(r"(\d+) requests in", out)
    per_s = re.search(r"Requests/sec:\s*([\d.]+)", out)
    percentiles = {
        int(p): float(value) * UNITS_MS[unit] for p, value, unit in PERCENTILE.findall(out)
    }
    if answered is None or per_s is None or set(percentiles) != {50, 99}:
        sys.exit(f"!!! cannot read the figures from wrk's report:\n{out}")
    return WrkRun(int(answered.group(1)), float(per_s.group(1)), percentiles[50], percentiles[99])
