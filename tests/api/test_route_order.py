"""Every route answers its own requests: none is shadowed by a route tried before it.

FastAPI tries routes in the order the app includes them (`http_facade.app`, hottest
first); this holds only while no two routes match the same request."""

import re
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from crm.runtime import Runtime
from crm.web import facade_context
from http_facade import customer_profile_routes, integration_routes, metrics, system_routes
from http_facade.app import CRM_V2_PREFIX, create_app
from http_facade.crm_routes import ROUTERS as CRM_V2_ROUTERS

pytestmark = pytest.mark.wire_only

PARAM = re.compile(r"\{[^}]+\}")


def declared_routes() -> list[tuple[str, str, Any]]:
    """(method, a concrete path, endpoint) of every route the app includes."""
    mounted: list[tuple[str, APIRouter]] = [
        ("", customer_profile_routes.router),
        ("", integration_routes.router),
        ("", system_routes.router),
        ("", metrics.router),
    ]
    mounted += [(prefix, r) for r in CRM_V2_ROUTERS for prefix in (CRM_V2_PREFIX, "")]
    routes = []
    for prefix, router in mounted:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            path = PARAM.sub("sample", prefix + route.path)
            routes += [(method, path, route.endpoint) for method in sorted(route.methods)]
    return routes


async def endpoint_answering(app: FastAPI, method: str, path: str) -> Any:
    """The endpoint the app routes a request to (no credentials: it answers 401, but the
    route is chosen before that)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "root_path": "",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    await app(scope, receive, send)
    return scope.get("endpoint")


async def test_every_route_answers_its_own_requests(runtime: Runtime) -> None:
    app = create_app(facade_context(runtime))
    routes = declared_routes()
    assert (
        len(routes) >= 11 + 2 * 30
    )  # the customer profile API, and the CRM API at both of its paths
    wrong = [
        (method, path, getattr(answered, "__name__", answered))
        for method, path, endpoint in routes
        if (answered := await endpoint_answering(app, method, path)) is not endpoint
    ]
    assert wrong == []
