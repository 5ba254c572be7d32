"""Structured logs for every `crm` process: one JSON object per line on stderr.

Each line carries `time`, `level`, `logger`, `message`, the process `role`, and, where
known, `requestId` (HTTP), `commandId` and `tenantId`. The context comes from context
variables: the HTTP middleware binds the request's (`http_facade.middleware`), the broker
middleware (`crm.message_log_context`) the consumed message's, and `extra=` on a log call
adds more.

Nothing secret or personal leaves through a log line: JWTs, `Bearer` credentials, the
configured signing secret, passwords in URLs and `secret`/`password` values are redacted,
and phone numbers are masked as in read responses (`138****5678`), in the message, in
the exception text and in every extra value.
"""

import asyncio
import contextvars
import functools
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from schemas.ids import event_command_id
from schemas.pii import mask_phone

# Work context of the current message (worker side): commandId, tenantId, eventId, ...
_WORK_CONTEXT: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "crm_work_context", default=None
)

# Loggers that install their own handlers; they are routed through ours instead.
_FOREIGN_LOGGERS = (
    "faststream",
    "faststream.access",
    "faststream.access.kafka",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
)
_QUIET_LOGGERS = {"aiokafka": logging.WARNING, "pymongo": logging.WARNING}
# Every logger `configure_logging` changes (the root is ""), for whoever must undo it.
CONFIGURED_LOGGERS = ("", *_FOREIGN_LOGGERS, *_QUIET_LOGGERS)

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "color_message", "taskName"}
)
_REDACTED = "[REDACTED]"
# One encoder for every line: `json.dumps` with non-default options builds a new one per call.
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s'\",;]+")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*):[^@/\s]*@")
_SECRET_VALUE = re.compile(
    r"(?i)(\b[\w-]*(?:secret|password|passwd|authorization|api[_-]?key|access[_-]?token"
    r"|refresh[_-]?token)['\"]?\s*[:=]\s*['\"]?)"
    r"([^'\"\s,;}&]+)"
)
_PHONE_VALUE = re.compile(
    r"(?i)(\b[\w-]*(?:phone|mobile|tel)['\"]?\s*[:=]\s*['\"]?)(\+?[0-9][0-9 ()-]{4,30}[0-9])"
)
# Mainland mobile numbers and E.164 numbers anywhere in free text.
_PHONE_NUMBER = re.compile(r"(?<![\w.+-])(\+[1-9]\d{7,14}|1[3-9]\d{9})(?![\w.-])")
# Text none of the patterns above can match: a cheap single pass tells, so most log text
# (routes, methods, command names) skips the six substitutions (~20 µs). Each fragment is a
# necessary part of some pattern: "eyj" (JWT), "bearer", "://" (URL password), the secret
# keywords, the phone keywords, and digits as a free-text phone number starts.
_SENSITIVE_FRAGMENTS = (
    r"eyj|bearer|://|secret|passw|authorization|api[_-]?key|token|phone|mobile|tel"
)
_MAYBE_SENSITIVE = re.compile(rf"(?i){_SENSITIVE_FRAGMENTS}|\d{{8}}")
# The same test for ASCII text, lower-cased first: about three times quicker than letting
# the engine fold case. (Only for ASCII: Unicode case folding is the engine's business.)
# Its digits are `_PHONE_NUMBER`'s own starts (a mainland mobile, `+` and eight digits),
# not any eight digits: one generated request id (a uuid4) in twelve has eight in a row,
# and each of those went through every substitution.
_MAYBE_SENSITIVE_LOWER_ASCII = re.compile(
    rf"{_SENSITIVE_FRAGMENTS}|1[3-9][0-9]{{9}}|\+[1-9][0-9]{{7}}"
)


def bind_work_context(**fields: str | None) -> contextvars.Token[Mapping[str, str] | None]:
    """Add fields (None ones skipped) to every log line of the current task."""
    current = dict(_WORK_CONTEXT.get() or {})
    current.update({key: value for key, value in fields.items() if value})
    return _WORK_CONTEXT.set(current)


@contextmanager
def work_context(**fields: str | None) -> Iterator[None]:
    token = bind_work_context(**fields)
    try:
        yield
    finally:
        _WORK_CONTEXT.reset(token)


def _maybe_sensitive(text: str) -> bool:
    if text.isascii():
        return _MAYBE_SENSITIVE_LOWER_ASCII.search(text.lower()) is not None
    return _MAYBE_SENSITIVE.search(text) is not None


def substitute_patterns(text: str) -> str:
    """Every pattern's substitution, in order (the configured secrets are the caller's)."""
    text = _JWT.sub(_REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {_REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:***@", text)
    text = _SECRET_VALUE.sub(lambda m: f"{m.group(1)}{_REDACTED}", text)
    text = _PHONE_VALUE.sub(lambda m: m.group(1) + mask_phone(m.group(2)), text)
    return _PHONE_NUMBER.sub(lambda m: mask_phone(m.group(1)), text)


class Redactor:
    """Masks phones and removes credentials from any text that is about to be logged.

    Log text repeats (methods, route templates, tenant ids, logger messages): a short
    text is redacted once and then remembered (the last `REMEMBERED` distinct ones). The
    access line of every request redacts five texts; remembered, its formatting took 11
    instead of 20 µs (docs/performance.md)."""

    REMEMBERED = 4096
    SHORT = 200  # characters; longer text (exceptions, bodies) is rarely seen twice

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._remembered = functools.lru_cache(maxsize=self.REMEMBERED)(self._redacted)

    def __call__(self, text: str) -> str:
        if len(text) <= self.SHORT:
            return self._remembered(text)
        return self._redacted(text)

    def _redacted(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return substitute_patterns(text) if _maybe_sensitive(text) else text

    def value(self, value: Any) -> Any:
        """A JSON-ready copy of an extra value, with its strings redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, Mapping):
            return {str(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        if isinstance(value, bytes):
            return self(value.decode("utf-8", "replace"))
        return self(str(value))


# Where the fields of the HTTP request being served come from: the facade's middleware
# (`http_facade.middleware.request_log_context`), registered by the app factory
# (`crm/web.py`), so that logging depends on no layer above it.
_request_context: Callable[[], Mapping[str, str]] = dict


def use_request_context(provider: Callable[[], Mapping[str, str]]) -> None:
    global _request_context
    _request_context = provider


def log_context() -> dict[str, str]:
    """The context fields of the current task: the HTTP request's, then the message's."""
    fields = dict(_request_context())
    work = _WORK_CONTEXT.get()
    if work is not None:
        fields.update(work)
    return fields


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text


def _utc_time(created: float) -> str:
    """`2026-01-02T03:04:05.678Z`, as `datetime.isoformat(timespec="milliseconds")` gives
    it; the text of the second is made once a second, not once a line."""
    global _second
    second = int(created)
    microseconds = round((created - second) * 1_000_000)
    if microseconds >= 1_000_000:  # rounds up into the next second: the slow way
        stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        return stamp.replace("+00:00", "Z")
    if _second[0] != second:
        _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second[1]}.{microseconds // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line; context fields and extras included."""

    def __init__(self, role: str, redactor: Redactor) -> None:
        super().__init__()
        self._role = role
        self._redact = redactor

    def _entry(self, created: float, level: str, logger: str, message: str) -> dict[str, Any]:
        """The fields every line starts with, the context's included."""
        entry: dict[str, Any] = {
            "time": _utc_time(created),
            "level": level,
            "logger": logger,
            "message": self._redact(message),
            "role": self._role,
        }
        # Context values can come from clients (`X-Request-ID`, a command's id): redacted too.
        entry.update((key, self._redact(value)) for key, value in log_context().items())
        return entry

    def format(self, record: logging.LogRecord) -> str:
        entry = self._entry(record.created, record.levelname, record.name, record.getMessage())
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key not in entry:
                entry[key] = self._redact.value(value)
        if record.exc_info:
            entry["exception"] = self._redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self._redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self._redact(self.formatStack(record.stack_info))
        return _LINE_ENCODER.encode(entry)

    def access_line(self, logger: str, method: str, route: str, status: int, ms: float) -> str:
        """The line `format` gives the facade's access record (`http_facade.middleware.
        log_access`: message `"{method} {route} {status}"`, the four fields as extras),
        built without a record: `AccessLineWriter`."""
        entry = self._entry(time.time(), "INFO", logger, f"{method} {route} {status}")
        fields = {"method": self._redact(method), "route": self._redact(route)}
        for key, value in (*fields.items(), ("status", status), ("durationMs", ms)):
            entry.setdefault(key, value)
        return _LINE_ENCODER.encode(entry)


class TextFormatter(logging.Formatter):
    """For people at a terminal (`CRM_LOG_FORMAT=text`): same redaction and context."""

    def __init__(self, role: str, redactor: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._role = role
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        line = self._redact(super().format(record))
        context = self._redact(" ".join(f"{k}={v}" for k, v in log_context().items()))
        return f"{line} [{context}]" if context else line


class LoopPassStreamHandler(logging.StreamHandler):
    """A stream handler that writes the lines logged during one pass of the event loop
    together, at the end of that pass: one write (and flush) for all of them instead of
    one a line. Under a read load every request logs its access line; a flush a line cost
    4 µs of a 140 µs request in-process, about 3% of `make load`'s throughput.

    Lines from outside an event loop, and warnings and errors, are written at once (with
    whatever was waiting before them, so the order holds). What waits is written at the end
    of the pass, on `flush()` and at exit (`logging.shutdown`): a process killed outright
    loses at most the lines of the pass it was in."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._waiting: list[str] = []
        # The loop whose pass end will write what waits (a loop closed before that
        # callback ran never runs it: the next line in another loop schedules anew).
        self._write_on: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._take(self.format(record), at_once=record.levelno >= logging.WARNING)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def emit_line(self, line: str) -> None:
        """A line formatted elsewhere (`AccessLineWriter`), written as an INFO record's."""
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._take(line, at_once=False)

    def _take(self, line: str, *, at_once: bool) -> None:
        """Queue `line`; write what waits now when `at_once` or outside an event loop."""
        self._waiting.append(line + self.terminator)
        if at_once or not self._deferred():
            self._write_waiting()

    def _deferred(self) -> bool:
        """True when the write is (already) scheduled at the end of this loop pass."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if self._write_on is not loop:
            loop.call_soon(self._write_at_pass_end)
            self._write_on = loop
        return True

    def _write_at_pass_end(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._write_waiting()

    def _write_waiting(self) -> None:
        self._write_on = None
        if self._waiting:
            text, self._waiting = "".join(self._waiting), []
            self.stream.write(text)
        self.stream.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_waiting()


class AccessLineWriter:
    """Writes the facade's access line (one a request) without a `LogRecord`: the same
    JSON line, through the same handler, as `logger.info` would, when nothing else would
    see the record (the root's handler is the one `configure_logging` installed, no other
    handler or filter on the way, JSON format); else through `fallback`, the `logging`
    path. Why: `make load` (GET customer detail, JSON logs on stderr) served 0.62 of the
    floor's requests through `logging` and 0.69 this way, 0.73 with no access line at all
    (3-round runs, docs/performance.md): building the record and the generic formatting
    cost more than the rest of the middleware."""

    def __init__(
        self,
        logger: logging.Logger,
        handler: "LoopPassStreamHandler",
        fallback: Callable[[str, str, int, float], None],
    ) -> None:
        self._logger = logger
        self._handler = handler
        self._fallback = fallback

    def __call__(self, method: str, route: str, status: int, duration_ms: float) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        formatter = self._handler.formatter
        if not isinstance(formatter, JsonFormatter) or not self._only_our_handler():
            self._fallback(method, route, status, duration_ms)
            return
        line = formatter.access_line(self._logger.name, method, route, status, duration_ms)
        self._handler.emit_line(line)

    def _only_our_handler(self) -> bool:
        """The record would reach our handler alone, unfiltered (checked on every line:
        a test or an operator may add a handler at any time)."""
        handler = self._handler
        if handler.filters or handler.level > logging.INFO:
            return False
        logger: logging.Logger | None = self._logger
        while logger is not None:
            if logger.filters or logger.disabled:
                return False
            if logger.parent is None:  # the root
                return logger.handlers == [handler]
            if logger.handlers or not logger.propagate:
                return False
            logger = logger.parent
        return False


def access_line_writer(
    logger: logging.Logger, fallback: Callable[[str, str, int, float], None]
) -> Callable[[str, str, int, float], None]:
    """`AccessLineWriter` on the handler `configure_logging` installed on the root;
    `fallback` when logging was not configured here (a test, an embedding application)."""
    ours = [h for h in logging.getLogger().handlers if isinstance(h, LoopPassStreamHandler)]
    if not ours:
        return fallback
    return AccessLineWriter(logger, ours[0], fallback)


def configure_logging(
    *,
    role: str,
    level: str = "INFO",
    fmt: str = "json",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Route every logger of the process through one handler on stderr; returns it."""
    redactor = Redactor(secrets)
    handler = LoopPassStreamHandler(stream or sys.stderr)
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    handler.setFormatter(formatter(role, redactor))
    # Neither formatter prints the caller's file and line, thread or process: the logging
    # HOWTO's "Optimization" switches stop every record from collecting them.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        for existing in list(foreign.handlers):
            foreign.removeHandler(existing)
        foreign.propagate = True
        foreign.setLevel(logging.NOTSET)
    logging.getLogger("uvicorn.access").disabled = True  # the facade logs its own access line
    for name, quiet_level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(quiet_level, logging.getLevelNamesMapping()[level]))
    logging.captureWarnings(True)
    return handler


def _message_context(body: bytes, headers: Mapping[str, Any]) -> dict[str, str | None]:
    """commandId / tenantId (and eventId for CloudEvents) of a consumed message, if any."""

    if "ce_id" in headers:  # a CloudEvent in binary content mode
        header_source, header_id = str(headers.get("ce_source", "")), str(headers["ce_id"])
        return {
            "eventId": header_id,
            "commandId": event_command_id(header_source, header_id),
            "tenantId": _str(headers.get("ce_tenantid")),
        }
    try:
        value = json.loads(body) if len(body) <= 1_000_000 else None
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(value, dict):
        return {}
    if "specversion" in value:
        event_id = _str(value.get("id"))
        source = _str(value.get("source")) or ""
        return {
            "eventId": event_id,
            "commandId": event_command_id(source, event_id) if event_id else None,
            "tenantId": _str(value.get("tenantid")),
        }
    return {"commandId": _str(value.get("commandId")), "tenantId": _str(value.get("tenantId"))}


def _str(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


class _MessageFields(Mapping[str, str]):
    """A consumed message's log context, read from its body only when a line is logged:
    most messages log nothing, and parsing every body up front (the consumer parses it
    again) cost as much as a whole middleware."""

    def __init__(self, body: bytes, headers: Mapping[str, Any]) -> None:
        self._body = body
        self._headers = headers
        self._fields: dict[str, str] | None = None

    def _resolved(self) -> dict[str, str]:
        if self._fields is None:
            try:
                found = _message_context(self._body, self._headers)
            except Exception:  # a log context must never stop a message, nor a log line
                found = {}
            self._fields = {key: value for key, value in found.items() if value}
        return self._fields

    def __getitem__(self, key: str) -> str:
        return self._resolved()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


def bind_message_context(body: Any, headers: Any) -> contextvars.Token[Mapping[str, str] | None]:
    """While a consumed message is handled, every log line names its command and tenant
    (read from the message only if a line is logged). Undo with `unbind_work_context`."""
    raw = bytes(body) if isinstance(body, bytes | bytearray) else b""
    return _WORK_CONTEXT.set(_MessageFields(raw, headers if isinstance(headers, Mapping) else {}))


def unbind_work_context(token: contextvars.Token[Mapping[str, str] | None]) -> None:
    _WORK_CONTEXT.reset(token)
