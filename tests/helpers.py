"""Test helpers: tokens, headers and reading the embedded topics."""

import socket
import time
import uuid
from typing import Any

import jwt

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
