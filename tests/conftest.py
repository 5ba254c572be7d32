"""Fixtures: a runtime on each backend, an HTTP client, and backend-agnostic topic helpers.

Every test that uses the `runtime` fixture (directly or through `client`) runs on both
backends, with the same production wiring (handlers, storage, facade):
- `embedded`: in-process broker (FastStream's test broker), mongomock store;
- `containers` (marked `integration`): real Kafka and MongoDB through testcontainers,
  started once per session; without a Docker engine these variants skip with one reason.
Mark a test `embedded_only` when it cannot run on real servers (it patches internals or
uses the embedded `/dev/topics` routes), `containers_only` when it needs real ones.

On real Kafka nothing is delivered inline: read what a published message did only after
`await processed(runtime)`, and read topics with `await published(runtime, topic)`.
"""

import logging
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from crm.logging_setup import CONFIGURED_LOGGERS
from crm.runtime import Runtime
from crm.settings import Settings
from crm.web import facade_context
from http_facade.app import create_app
from tests.helpers import TEST_SECRET

if TYPE_CHECKING:
    from tests.integration.backends import KafkaProbe, Services

EMBEDDED, CONTAINERS = "embedded", "containers"
_PROBES: "weakref.WeakKeyDictionary[Runtime, KafkaProbe]" = weakref.WeakKeyDictionary()
_DOCKER_CHECK: list[str | None] = []  # the session's answer, asked once


def embedded_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_url": None,
        "mongo_url": None,
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
    names = [EMBEDDED, CONTAINERS]
    if metafunc.definition.get_closest_marker("embedded_only"):
        names = [EMBEDDED]
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


@pytest.fixture
def services(backend: str, request: pytest.FixtureRequest) -> "Services | None":
    """The real servers of the containers backend (None on the embedded one)."""
    if backend == CONTAINERS:
        found: Services = request.getfixturevalue("container_services")
        return found
    return None


@pytest.fixture
async def runtime(backend: str, services: "Services | None") -> AsyncIterator[Runtime]:
    if services is None:
        rt = Runtime(embedded_settings())
        await rt.start()
        try:
            yield rt
        finally:
            await rt.stop()
        return
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


def probe_of(runtime: Runtime) -> "KafkaProbe | None":
    """The container backend's view of the runtime's topics (None when embedded)."""
    return _PROBES.get(runtime)


def attach_probe(runtime: Runtime, probe: "KafkaProbe") -> None:
    _PROBES[runtime] = probe


async def processed(runtime: Runtime) -> None:
    """Until the worker has handled everything published so far to its input topics.

    Embedded delivery is inline (nothing to wait for); on real Kafka this waits, with a
    deadline, for the consumer group to commit past the topics' end offsets."""
    probe = probe_of(runtime)
    if probe is not None:
        await probe.processed([runtime.topics.commands, runtime.topics.integration_events])


async def published(runtime: Runtime, topic: str) -> list[dict[str, Any]]:
    """Messages on a topic, oldest first, after pending change events were relayed."""
    probe = probe_of(runtime)
    if probe is None:
        await runtime.relay.run_once()
        assert runtime.topic_log is not None
        return runtime.topic_log.messages(topic)
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
