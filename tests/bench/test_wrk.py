"""The bench's wrk runs: the figures read from a report, unique writes, and no figure when a
request failed (a 202 included)."""

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.bench.write_floor import PATH
from tests.bench.writes import post_load
from tests.bench.wrk import WrkRun, read_report

REPORT = """Running 8s test @ http://127.0.0.1:1/api/v1/crm/customers
  1 threads and 16 connections
  Latency Distribution
     50%  540.00us
     75%   88.08ms
     90%  119.96ms
     99%    1.25s
  1206 requests in 6.01s, 727.15KB read
Requests/sec:    200.61
Transfer/sec:    120.96KB
answers other than 201: 0 (last status 0)
"""


def test_report_figures_in_milliseconds() -> None:
    assert read_report(REPORT, "url") == WrkRun(1206, 200.61, 0.54, 1250.0)


@pytest.mark.parametrize(
    "failure",
    [
        "answers other than 201: 3 (last status 202)",
        "  Non-2xx or 3xx responses: 4",
        "  Socket errors: connect 0, read 0, write 0, timeout 2",
    ],
)
def test_no_figure_when_a_request_failed(failure: str) -> None:
    with pytest.raises(SystemExit, match="wrk saw errors"):
        read_report(REPORT.replace("answers other than 201: 0 (last status 0)", failure), "url")


def test_no_figure_from_an_unreadable_report() -> None:
    with pytest.raises(SystemExit, match="cannot read"):
        read_report(REPORT.replace("Requests/sec", "Req/s"), "url")


@contextmanager
def server(status: int, seen: list[str]) -> Iterator[str]:
    """A local HTTP server answering every POST with `status`, noting each X-Request-ID."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["X-Request-ID"])
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}{PATH}"
    finally:
        httpd.shutdown()
        httpd.server_close()


needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


@needs_wrk
def test_every_write_has_its_own_request_id() -> None:
    seen: list[str] = []
    with server(201, seen) as url:
        run = post_load(url, "token", 1, 2)
        run_again = post_load(url, "token", 1, 2)
    assert run.requests > 0 and run_again.requests > 0
    assert len(set(seen)) == len(seen)


@needs_wrk
def test_accepted_but_not_created_is_no_figure() -> None:
    with server(202, []) as url, pytest.raises(SystemExit, match="wrk saw errors"):
        post_load(url, "token", 1, 2)
