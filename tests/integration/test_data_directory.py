"""`crm run` keeps its in-memory store in a data directory (CRM_DATA_DIR): what a user
created is there after a restart, and after a crash up to the last periodic snapshot."""

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import bson
import httpx
import pytest

from crm.bootstrap import bootstrap
from crm.runtime import Runtime
from crm.settings import Settings
from crm.web import facade_context
from http_facade.app import create_app
from storage.embedded.snapshot import SNAPSHOT
from tests.conftest import embedded_settings
from tests.helpers import auth, new_request_id

CUSTOMERS = "/api/v1/crm/customers"
WAIT_S = 30.0


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """`crm run`'s runtime (role `all`) with an HTTP client; stopped cleanly on exit."""
    runtime = Runtime(bootstrap(settings))
    await runtime.start()
    app = create_app(facade_context(runtime), readiness=runtime.readiness)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            yield http
    finally:
        await runtime.stop()


async def create(http: httpx.AsyncClient, name: str) -> httpx.Response:
    return await http.post(
        CUSTOMERS,
        json={"name": name, "phone": "13812345678"},
        headers=auth(request_id=new_request_id()),
    )


async def names(http: httpx.AsyncClient) -> list[str]:
    response = await http.get(CUSTOMERS, headers=auth())
    assert response.status_code == 200, response.text
    return sorted(item["name"] for item in response.json()["items"])


async def test_customers_survive_a_restart(tmp_path: Path) -> None:
    async with serving(embedded_settings(data_dir=tmp_path)) as http:
        for name in ("Acme Ltd", "Beta GmbH"):
            assert (await create(http, name)).status_code == 201
        acme = (await http.get(CUSTOMERS, headers=auth())).json()["items"]
    async with serving(embedded_settings(data_dir=tmp_path)) as http:
        assert await names(http) == ["Acme Ltd", "Beta GmbH"]
        [first] = [item for item in acme if item["name"] == "Acme Ltd"]
        detail = await http.get(f"{CUSTOMERS}/{first['id']}", headers=auth())
        assert detail.json() == first
        # the unique rule holds over what was loaded, and new writes work
        duplicate = await create(http, "  acme LTD ")
        assert duplicate.status_code == 409, duplicate.text
        assert (await create(http, "Gamma")).status_code == 201
    async with serving(embedded_settings(data_dir=tmp_path)) as http:
        assert await names(http) == ["Acme Ltd", "Beta GmbH", "Gamma"]


async def test_a_crash_keeps_the_last_periodic_snapshot(tmp_path: Path) -> None:
    """While the service runs, its directory is copied as a crash would leave it (no
    shutdown save): once a periodic snapshot was written, a new service on that copy
    serves the customer."""
    running, crashed = tmp_path / "running", tmp_path / "crashed"
    crashed.mkdir()
    async with serving(embedded_settings(data_dir=running, data_snapshot_s=0.05)) as http:
        assert (await create(http, "Acme Ltd")).status_code == 201
        await until_snapshot_holds(running / SNAPSHOT, "customers", 1)
        shutil.copy(running / SNAPSHOT, crashed / SNAPSHOT)
    async with serving(embedded_settings(data_dir=crashed)) as http:
        assert await names(http) == ["Acme Ltd"]


async def until_snapshot_holds(path: Path, collection: str, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while await asyncio.to_thread(counted, path, collection) != count:
        if time.monotonic() > deadline:
            raise AssertionError(f"no snapshot with {count} {collection} after {WAIT_S}s")
        await asyncio.sleep(0.05)


def counted(path: Path, collection: str) -> int | None:
    """How many documents of `collection` the snapshot's header counts (None: no file)."""
    if not path.exists():
        return None
    with path.open("rb") as file:
        header = next(bson.decode_file_iter(file))
    return sum(c["count"] for c in header["collections"] if c["name"] == collection)


@pytest.mark.parametrize(
    ("settings", "role"),
    [
        ({"data_dir": None}, "all"),  # CRM_DATA_DIR= (empty): memory only
        ({}, "api"),  # only `crm run` keeps its store
    ],
    ids=["memory-only", "api-role"],
)
def test_no_data_directory_outside_crm_run_with_one(
    tmp_path: Path, settings: dict[str, Any], role: Any
) -> None:
    runtime = Runtime(bootstrap(embedded_settings(**{"data_dir": tmp_path, **settings}), role=role))
    assert runtime.parts.data_directory is None


def test_the_data_directory_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CRM_DATA_DIR", "CRM_DATA_SNAPSHOT_S"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().data_dir == Path(".crm-data")
    assert Settings().data_snapshot_s == 5.0
    monkeypatch.setenv("CRM_DATA_DIR", "")
    assert Settings().data_dir is None
    monkeypatch.setenv("CRM_DATA_DIR", "/var/lib/crm")
    assert Settings().data_dir == Path("/var/lib/crm")
