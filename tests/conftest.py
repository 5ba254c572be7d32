"""Fixtures: a runtime on each backend, an HTTP client, and backend-agnostic topic helpers.

Every test that uses the `runtime` fixture (directly or through `client`) runs on both
backends, with the same production wiring (handlers, storage, facade, FastStream's
KafkaBroker over aiokafka and TCP):
- `wire`: a Tansu broker (the embedded mode's Kafka) started once per session, and the
  in-memory store; runs everywhere, by default;
- `containers` (marked `integration`): real Kafka and MongoDB through testcontainers (or
  `CRM_TEST_KAFKA_URL` / `CRM_TEST_MONGO_URL`), started once per session; without a Docker
  engine or those variables these variants skip with one reason.
Mark a test `wire_only` when it cannot run on real servers (it patches internals or needs the
in-memory store), `containers_only` when it needs real Kafka and MongoDB.

Nothing is delivered inline: read what a published message did only after
`await processed(runtime)`, and read topics with `await published(runtime, topic)`.
"""

import logging
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from crm.embedded_kafka import free_port
from crm.logging_setup import CONFIGURED_LOGGERS
from crm.runtime import Runtime
from crm.settings import Settings
from crm.web import facade_context
from http_facade.app import create_app
from tests.helpers import TEST_SECRET

if TYPE_CHECKING:
    from tests.integration.backends import KafkaProbe, Services

WIRE, CONTAINERS = "wire", "containers"
_PROBES: "weakref.WeakKeyDictionary[Runtime, KafkaProbe]" = weakref.WeakKeyDictionary()
_DOCKER_CHECK: list[str | None] = []  # the session's answer, asked once


def embedded_settings(**overrides: Any) -> Settings:
    """Embedded mode as `crm run` runs it (its own Tansu broker, the in-memory store), on a
    free port so tests never collide with a running service."""
    values: dict[str, Any] = {
        "kafka_url": None,
        "embedded_kafka_port": free_port(),
        "kafka_partitions": 1,
        "mongo_url": None,
        "data_dir": None,  # memory only: a test never writes into the checkout
        "jwt_secret": TEST_SECRET,
        "reply_timeout_s": 2.0,
        "retry_backoff_s": 0.0,
        "relay_interval_s": 0.05,
    }
    values.update(overrides)
    return Settings(**values)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise every test that needs a backend over the backends it can run on."""
    if "backend" not in metafunc.fixturenames:
        return
    names = [WIRE, CONTAINERS]
    if metafunc.definition.get_closest_marker("wire_only"):
        names = [WIRE]
    elif metafunc.definition.get_closest_marker("containers_only"):
        names = [CONTAINERS]
    metafunc.parametrize(
        "backend",
        [
            pytest.param(
                name, id=name, marks=[pytest.mark.integration] if name == CONTAINERS else []
            )
            for name in names
        ],
        indirect=True,
    )


def _no_docker_reason() -> str | None:
    if not _DOCKER_CHECK:
        from tests.integration.backends import docker_unavailable_reason

        _DOCKER_CHECK.append(docker_unavailable_reason())
    return _DOCKER_CHECK[0]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Without a Docker engine every containers variant skips here, before its fixtures,
    with one reason from one place: `pytest -rs` folds them into a single line."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("backend") == CONTAINERS:
        reason = _no_docker_reason()
        if reason is not None:
            pytest.skip(reason)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def container_services() -> Iterator["Services"]:
    """Kafka + MongoDB containers, started once for the session."""
    from tests.integration.backends import running_services

    reason = _no_docker_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_services() as services:
        yield services


@pytest.fixture(scope="session")
def wire_services() -> Iterator["Services"]:
    """One Tansu broker for the session; every test gets its own topics and groups."""
    from tests.integration.backends import running_tansu

    with running_tansu() as services:
        yield services


@pytest.fixture
def services(backend: str, request: pytest.FixtureRequest) -> "Services":
    """The servers of the test's backend."""
    name = "container_services" if backend == CONTAINERS else "wire_services"
    found: Services = request.getfixturevalue(name)
    return found


@pytest.fixture
async def runtime(services: "Services") -> AsyncIterator[Runtime]:
    from tests.integration.backends import deployment

    async with deployment(services) as (runtimes, probe):
        [rt] = runtimes
        _PROBES[rt] = probe
        yield rt


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(facade_context(runtime), readiness=runtime.readiness)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def probe_of(runtime: Runtime) -> "KafkaProbe":
    """The test's view of the runtime's topics."""
    return _PROBES[runtime]


def attach_probe(runtime: Runtime, probe: "KafkaProbe") -> None:
    _PROBES[runtime] = probe


async def processed(runtime: Runtime) -> None:
    """Until the worker has handled everything published so far to its input topics: waits,
    with a deadline, for its consumer groups to commit past the topics' end offsets."""
    await probe_of(runtime).processed(
        [runtime.parts.topics.commands, runtime.parts.topics.integration_events]
    )


async def published(runtime: Runtime, topic: str) -> list[dict[str, Any]]:
    """Messages on a topic, oldest first, after pending change events were relayed."""
    probe = probe_of(runtime)
    from tests.integration.backends import all_relayed

    await processed(runtime)
    await all_relayed(runtime)  # the runtime's own relay: a second one would duplicate
    await probe.caught_up([topic])
    return probe.messages(topic)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`configure_logging` rewires the process's loggers; put them back afterwards."""
    saved = {
        name: (
            list(logging.getLogger(name).handlers),
            logging.getLogger(name).level,
            logging.getLogger(name).propagate,
            logging.getLogger(name).disabled,
        )
        for name in CONFIGURED_LOGGERS
    }
    try:
        yield
    finally:
        logging.captureWarnings(False)
        for name, (handlers, level, propagate, disabled) in saved.items():
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            for handler in handlers:
                logger.addHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled
