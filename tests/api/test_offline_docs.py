"""`/docs` and `/redoc` work on a machine without internet: every script, style and icon
they load comes from the service itself (the assets of the `fastapi-offline` wheel).

The pages need no started runtime, so the app is built around one that never starts."""

import re
import shutil
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from crm.bootstrap import bootstrap
from crm.runtime import Runtime
from crm.web import facade_context
from http_facade.app import create_app
from tests.conftest import embedded_settings

BASE = "http://test"
PAGES = ("/docs", "/redoc")
ASSET_TYPES = ("text/javascript", "application/javascript", "text/css", "image/png")
ABSOLUTE_URL = re.compile(r"\b(?:https?:)?//[\w.-]+", re.I)


class References(HTMLParser):
    """Every URL an HTML page makes the browser load (src, href, ReDoc's spec-url)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.urls.append(value)


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(facade_context(Runtime(bootstrap(embedded_settings()))))


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.mark.parametrize("page", PAGES)
async def test_the_page_loads_nothing_from_another_host(http: httpx.AsyncClient, page: str) -> None:
    response = await http.get(page)
    assert response.status_code == 200
    urls = references(response.text)
    assert any(url.endswith(".js") for url in urls), urls  # the page is the UI, not a stub
    for url in urls:
        assert urlsplit(urljoin(BASE + page, url)).netloc == "test", url
    # nor in the inline script (Swagger UI's spec URL, its validator badge)
    assert ABSOLUTE_URL.findall(response.text) == []


@pytest.mark.parametrize("page", PAGES)
async def test_every_asset_the_page_loads_is_served(http: httpx.AsyncClient, page: str) -> None:
    html = (await http.get(page)).text
    for url in references(html):
        asset = await http.get(url)
        assert asset.status_code == 200, url
        if url.endswith("openapi.json"):
            assert asset.json()["info"]["title"] == "CRM worker service"
        else:
            assert asset.headers["content-type"].startswith(ASSET_TYPES), url
            assert len(asset.content) > 1000, url  # the real bundle, not an empty file


# -- in a browser: headless Chromium (Debian's `chromium`), skipped where it is absent ----

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def served(app: FastAPI) -> Iterator[str]:
    """The app on a real socket (the browser needs one), in a thread of its own."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def rendered(url: str) -> str:
    """The page's DOM after its scripts ran, in a browser that can resolve no host but
    this machine (as offline as it gets on a machine that has a network)."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium installed: browser check of /docs skipped"
)
def test_swagger_ui_renders_the_api_offline(served: str) -> None:
    dom = rendered(f"{served}/docs")
    assert 'class="swagger-ui"' in dom  # Swagger UI mounted its app
    assert "CRM worker service" in dom  # ... and rendered the spec it fetched
    assert "/api/v1/api/customers" in dom
    assert "btn authorize" in dom  # the bearer scheme's Authorize button


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium installed: browser check of /redoc skipped"
)
def test_redoc_renders_the_api_offline(served: str) -> None:
    dom = rendered(f"{served}/redoc")
    assert "/api/v1/api/customers" in dom
