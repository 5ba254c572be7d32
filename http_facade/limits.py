"""Request limits at the edge: body size (413), JSON bodies only (415) and per-tenant rate
(429 + Retry-After).

Both answer in the error envelope of the API family of the path, before any route runs.
"""

import math
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from http_facade.auth import decode_token
from http_facade.errors import ApiError, send_error
from schemas.errors import ErrorCode

_BODYLESS_METHODS = frozenset({"GET", "HEAD"})


def is_json_media_type(content_type: bytes | None) -> bool:
    """`application/json` or `application/<anything>+json`, any parameters (charset)."""
    if content_type is None:
        return False
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


class BodyLimits:
    """Refuse bodies over `max_bytes` (413): by Content-Length up front, or while streaming;
    and a body that is not declared JSON (415; every body a route reads is JSON).

    A streamed body that grows too large is answered 413 at once; the app then sees the
    client gone, and whatever it still tries to send is dropped. A request without a body
    (none announced, or `Content-Length: 0`) needs no Content-Type.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body larger than {self.max_bytes} bytes"
        announced = False  # a body follows (a length above 0, or chunked)
        content_type = None
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    await send_error(scope, send, 413, ErrorCode.PAYLOAD_TOO_LARGE.value, message)
                    return
                announced = announced or value.strip(b"0 ") != b""
            elif key == b"transfer-encoding":
                announced = True
            elif key == b"content-type":
                content_type = value
        if scope.get("method") in _BODYLESS_METHODS:
            await self.app(scope, receive, send)  # no GET/HEAD route reads a body
            return
        if announced and not is_json_media_type(content_type):
            await send_error(
                scope,
                send,
                415,
                ErrorCode.UNSUPPORTED_MEDIA_TYPE.value,
                "the request body must be JSON (Content-Type: application/json)",
            )
            return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            incoming = await receive()
            if incoming["type"] == "http.request":
                received += len(incoming.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await send_error(scope, send, 413, ErrorCode.PAYLOAD_TOO_LARGE.value, message)
                    return {"type": "http.disconnect"}
            return incoming

        async def guarded_send(outgoing: Message) -> None:
            if not refused:
                await send(outgoing)

        await self.app(scope, limited_receive, guarded_send)


class TenantRateLimit:
    """A token bucket per tenant, the tenant of the request's verified token. Requests
    without a valid token are not limited here (they get 401 anyway). `X-Tenant-Id` plays
    no part: one that is not the token's tenant is a 403 at the route, and bucketing by it
    let anyone, without a token, drain another tenant's bucket."""

    def __init__(self, app: ASGIApp, per_second: float, burst: int, secret: str) -> None:
        self.app = app
        self.rate = per_second
        self.burst = float(burst)
        self.secret = secret
        self._buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenant = _tenant_of(scope, self.secret) if scope["type"] == "http" else None
        if tenant is not None:
            wait_s = self._take(tenant)
            if wait_s > 0:
                await send_error(
                    scope,
                    send,
                    429,
                    ErrorCode.RATE_LIMITED.value,
                    "too many requests for this tenant",
                    {"Retry-After": str(max(1, math.ceil(wait_s)))},
                )
                return
        await self.app(scope, receive, send)

    def _take(self, tenant: str) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        now = time.monotonic()
        tokens, last = self._buckets.get(tenant, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[tenant] = (tokens - 1, now)
            return 0.0
        self._buckets[tenant] = (tokens, now)
        return (1 - tokens) / self.rate


def _tenant_of(scope: Scope, secret: str) -> str | None:
    """The tenant of the request's token, once the token is verified (remembered verdicts
    make a repeat cheap): a header or a forged token naming another tenant spends no
    token of that tenant's bucket, and no bucket is made for a tenant nobody signed."""
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            try:
                claims = decode_token(token.strip(), secret)
            except ApiError:
                return None  # refused with 401 by the route
            return str(claims["tenant"])
    return None
