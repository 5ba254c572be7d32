"""`X-Request-ID` (echoed, or generated) and `X-Response-Time` (ms) on every response.

A plain ASGI middleware: cheaper than BaseHTTPMiddleware on the hot read path.
"""

import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_REQUEST_ID = 128


class RequestTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given[:MAX_REQUEST_ID] if given else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed_ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1", "replace")))
                headers.append((b"x-response-time", f"{elapsed_ms:.2f}".encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").strip() or None
    return None
