"""Test helpers: tokens, headers, reading the embedded topics, an indexed in-memory store
and an event sink for the outbox relay."""

import socket
import time
import uuid
from typing import Any

import jwt

from storage.database import Database
from storage.embedded import MemoryClient
from storage.indexes import ensure_indexes

TEST_SECRET = "test-secret-0123456789-0123456789-abcdef"
ALL_PERMISSIONS = ("customers.read", "customers.write", "crm.read", "crm.write")


def make_token(
    permissions: tuple[str, ...] | list[str] = ALL_PERMISSIONS,
    *,
    tenant: str = "t1",
    sub: str = "u1",
    secret: str = TEST_SECRET,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": sub,
        "tenant": tenant,
        "permissions": list(permissions),
        "iat": now,
        "exp": now + 3600,
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, secret, algorithm=algorithm)


def auth(
    permissions: tuple[str, ...] | list[str] = ALL_PERMISSIONS,
    *,
    tenant: str = "t1",
    sub: str = "u1",
    request_id: str | None = None,
    **headers: str,
) -> dict[str, str]:
    """Authorization header (+ X-Request-ID when given, + any extra headers)."""
    out = {"Authorization": f"Bearer {make_token(permissions, tenant=tenant, sub=sub)}"}
    if request_id is not None:
        out["X-Request-ID"] = request_id
    out.update({k.replace("_", "-"): v for k, v in headers.items()})
    return out


def new_request_id() -> str:
    return str(uuid.uuid4())


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def indexed_memory_db() -> Database:
    """An empty in-memory store with the start-up indexes (the unique ones matter)."""
    db: Database = MemoryClient()["crm"]  # type: ignore[assignment]
    await ensure_indexes(db, retention_s=0)
    return db


class EventSink:
    """The relay's publish function for tests: keeps every event and key it is given."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.keys: list[bytes] = []

    async def __call__(self, event: dict[str, Any], key: bytes) -> None:
        self.sent.append(event)
        self.keys.append(key)


async def publish_raw(
    runtime: Any, topic: str, value: bytes, key: bytes | None, headers: dict[str, str]
) -> None:
    """Publish as an outside producer would: raw bytes, key and headers, over the runtime's
    own Kafka connection."""
    await runtime.parts.broker.publish(value, topic, key=key, headers=headers)


def command_envelope(
    command_type: Any,
    payload: dict[str, Any],
    *,
    command_id: str | None = None,
    tenant: str = "t1",
    actor: str = "u1",
) -> Any:
    """A command envelope as a producer sends it (a fresh command id unless given)."""
    from schemas.envelope import CommandEnvelope

    return CommandEnvelope(
        command_id=command_id or str(uuid.uuid4()),
        type=command_type,
        tenant_id=tenant,
        actor_id=actor,
        payload=payload,
    )
