"""Structured logs: one JSON object per line, with context, never secrets or phones."""

import asyncio
import io
import json
import logging
import sys

import pytest

from crm.logging_setup import (
    JsonFormatter,
    Redactor,
    TextFormatter,
    access_line_writer,
    configure_logging,
    use_request_context,
    work_context,
)
from crm.runtime import Runtime
from http_facade.middleware import (
    _REQUEST_CONTEXT,
    access_log,
    log_access,
    request_log_context,
)
from tests.conftest import processed
from tests.helpers import TEST_SECRET, make_token, publish_raw

PHONE = "13812345678"
MASKED = "138****5678"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("crm.test")
    return logger.makeRecord(
        "crm.test", logging.WARNING, __file__, 1, message, args, None, extra=extra
    )


def test_secrets_and_credentials_are_redacted() -> None:
    token = make_token()
    redact = Redactor([TEST_SECRET])
    text = redact(
        f"Authorization: Bearer {token} secret={TEST_SECRET} raw {token} "
        "url mongodb://crm:hunter2@db:27017/crm jwt_secret='abc123456' "
        '{"password": "p4ssw0rd"}'
    )
    assert token not in text
    assert TEST_SECRET not in text
    assert "hunter2" not in text
    assert "abc123456" not in text
    assert "p4ssw0rd" not in text
    assert "mongodb://crm:***@db:27017/crm" in text
    assert "[REDACTED]" in text


@pytest.mark.parametrize(
    "text",
    [
        f"phone={PHONE}",
        f"{{'name': '', 'phone': '{PHONE}'}}",
        f'{{"phone": "{PHONE}"}}',
        f"input_value='{PHONE}'",
        f"call {PHONE} now",
        "mobile: +8613812345678",
    ],
)
def test_phone_numbers_are_masked(text: str) -> None:
    masked = Redactor()(text)
    assert PHONE not in masked
    assert "****" in masked


def test_ids_timestamps_and_offsets_are_left_alone() -> None:
    text = (
        "customer 6f1c2a9e-1380-4c3b-9a1e-138123456789 at 2026-11-21T08:00:00.123Z "
        "offset 42 partition 3 took 1763712000000 ms"
    )
    assert Redactor()(text) == text


def test_json_line_carries_context_and_extras() -> None:
    formatter = JsonFormatter("worker", Redactor([TEST_SECRET]))
    with work_context(commandId="cmd-1", tenantId="t1", ignored=None):
        line = formatter.format(
            record("dead-lettering %s", f"phone {PHONE}", topic="crm.commands", offset=7)
        )
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == f"dead-lettering phone {MASKED}"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "crm.test"
    assert entry["role"] == "worker"
    assert entry["commandId"] == "cmd-1"
    assert entry["tenantId"] == "t1"
    assert "ignored" not in entry
    assert entry["topic"] == "crm.commands"
    assert entry["offset"] == 7
    assert entry["time"].endswith("Z")


@pytest.mark.parametrize("formatter_class", [JsonFormatter, TextFormatter])
def test_client_chosen_context_values_are_redacted(formatter_class: type) -> None:
    """A request id or command id is whatever the client sent; it may hold a phone."""
    formatter = formatter_class("worker", Redactor([TEST_SECRET]))
    with work_context(commandId=PHONE, tenantId=f"t-{TEST_SECRET}"):
        line = formatter.format(record("handled"))
    assert PHONE not in line
    assert MASKED in line
    assert TEST_SECRET not in line


def test_exceptions_stay_on_one_line_and_are_redacted() -> None:
    formatter = JsonFormatter("api", Redactor([TEST_SECRET]))
    try:
        raise ValueError(f"bad secret {TEST_SECRET} for {PHONE}")
    except ValueError:
        rec = logging.getLogger("crm.test").makeRecord(
            "crm.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = formatter.format(rec)
    assert "\n" not in line
    entry = json.loads(line)
    assert "ValueError" in entry["exception"]
    assert TEST_SECRET not in line
    assert PHONE not in line


def test_configure_routes_every_logger_through_one_json_handler(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(role="api", level="INFO", secrets=[TEST_SECRET], stream=stream)
    logging.getLogger("crm.test").info("token %s", TEST_SECRET)
    logging.getLogger("faststream").warning("from faststream")  # had its own handler
    logging.getLogger("uvicorn.error").info("from uvicorn")
    logging.getLogger("aiokafka").info("chatty")  # below its floor
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [entry["message"] for entry in lines] == [
        "token [REDACTED]",
        "from faststream",
        "from uvicorn",
    ]
    assert {entry["role"] for entry in lines} == {"api"}


def test_text_format_for_people_is_redacted_too(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(role="worker", fmt="text", secrets=[TEST_SECRET], stream=stream)
    with work_context(commandId="c-9"):
        logging.getLogger("crm.test").warning("phone %s secret %s", PHONE, TEST_SECRET)
    [line] = stream.getvalue().splitlines()
    assert MASKED in line
    assert TEST_SECRET not in line
    assert "commandId=c-9" in line
    assert isinstance(TextFormatter("x", Redactor()), logging.Formatter)


def test_request_ids_are_not_taken_for_phone_numbers_unless_they_hold_one() -> None:
    """Generated request ids (uuid4) often hold eight digits in a row; only a phone number's
    shape is masked."""
    redact = Redactor()
    assert redact("4e7f0c2a-1234-4567-8901-234567890abc") == "4e7f0c2a-1234-4567-8901-234567890abc"
    assert redact(f"req:{PHONE}") == f"req:{MASKED}"
    assert "15123456789" not in redact("req:+4915123456789")


async def test_lines_logged_in_one_loop_pass_are_written_together_in_order(
    restore_logging: None,
) -> None:
    stream = io.StringIO()
    configure_logging(role="api", stream=stream)
    log = logging.getLogger("crm.test")
    log.info("first")
    log.info("second")
    assert stream.getvalue() == ""  # written at the end of this pass of the loop
    log.warning("third")  # warnings are written at once, after what waited
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == [
        "first",
        "second",
        "third",
    ]
    log.info("fourth")
    await asyncio.sleep(0)
    assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "fourth"


def _without_time(line: str) -> dict[str, object]:
    entry = json.loads(line)
    del entry["time"]
    return dict(entry)


async def test_the_access_line_writer_writes_what_logging_would(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(role="api", secrets=[TEST_SECRET], stream=stream)
    writer = access_line_writer(access_log, fallback=log_access)
    use_request_context(request_log_context)  # as the app factory does (crm/web.py)
    token = _REQUEST_CONTEXT.set({"requestId": f"req:{PHONE}", "tenantId": "t1"})
    try:
        writer("GET", "/api/v1/api/customers/{id}", 200, 1.25)
        log_access("GET", "/api/v1/api/customers/{id}", 200, 1.25)
        seen: list[logging.LogRecord] = []

        class Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(record)

        access_log.addHandler(Collect())  # another handler: the record must reach it
        writer("GET", "/api/v1/api/customers/{id}", 404, 0.5)
    finally:
        _REQUEST_CONTEXT.reset(token)
        access_log.handlers.clear()
    await asyncio.sleep(0)
    fast, through_logging, fallen_back = stream.getvalue().splitlines()
    assert _without_time(fast) == _without_time(through_logging)
    assert _without_time(fast) == {
        "level": "INFO",
        "logger": "crm.http.access",
        "message": "GET /api/v1/api/customers/{id} 200",
        "role": "api",
        "requestId": f"req:{MASKED}",
        "tenantId": "t1",
        "method": "GET",
        "route": "/api/v1/api/customers/{id}",
        "status": 200,
        "durationMs": 1.25,
    }
    assert json.loads(fallen_back)["status"] == 404
    assert [record.status for record in seen] == [404]  # type: ignore[attr-defined]


@pytest.mark.wire_only
async def test_worker_log_lines_name_the_command_and_mask_its_phone(
    runtime: Runtime, restore_logging: None
) -> None:
    stream = io.StringIO()
    configure_logging(role="worker", level="INFO", secrets=[TEST_SECRET], stream=stream)
    envelope = {
        "commandId": "cmd-poison-1",
        "type": "customer.create",
        "tenantId": "t-logs",
        "actorId": "u1",
        # invalid (the name is no string): dead-lettered with a warning
        "payload": {"name": {"phone": PHONE}, "phone": PHONE},
    }
    await publish_raw(
        runtime, runtime.parts.topics.commands, json.dumps(envelope).encode(), b"t-logs:x", {}
    )
    await processed(runtime)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    warnings = [entry for entry in lines if entry["logger"] == "crm.worker"]
    assert warnings, lines
    for entry in warnings:
        assert entry["commandId"] == "cmd-poison-1"
        assert entry["tenantId"] == "t-logs"
    assert PHONE not in stream.getvalue()  # left out at the source, or masked here
