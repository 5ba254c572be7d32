"""The checked-in contracts equal what the service serves (regenerate: `make contracts`)."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from crm.bootstrap import bootstrap
from crm.contracts import ASYNCAPI_FILE, OPENAPI_FILE
from crm.runtime import Runtime
from crm.settings import Settings
from crm.web import facade_context
from http_facade.app import create_app
from tests.helpers import TEST_SECRET


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The app as the service builds it, with the default topic names the documents are
    generated for (the test backends rename every topic per test). Nothing here needs the
    broker or the store, so the runtime is not started."""
    runtime = Runtime(bootstrap(Settings(jwt_secret=TEST_SECRET)))
    transport = httpx.ASGITransport(app=create_app(facade_context(runtime)))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


ROOT = Path(__file__).resolve().parent.parent
DRIFT = "{name} drifted from the code: run `make contracts` and review the diff"


def checked_in(name: str) -> object:
    return yaml.safe_load((ROOT / name).read_text())


async def test_openapi_contract_matches_the_served_schema(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    assert served == checked_in(OPENAPI_FILE), DRIFT.format(name=OPENAPI_FILE)


async def test_asyncapi_document_matches_the_served_one(client: httpx.AsyncClient) -> None:
    served = (await client.get("/asyncapi.json")).json()
    assert served == checked_in(ASYNCAPI_FILE), DRIFT.format(name=ASYNCAPI_FILE)
    yaml_served = yaml.safe_load((await client.get("/asyncapi.yaml")).text)
    assert yaml_served == served


async def test_contract_covers_both_api_families_without_422(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    paths = served["paths"]
    api_b = [
        p
        for p in paths
        if p.startswith("/api/v1/crm/") and "commands" not in p and "integration" not in p
    ]
    operations = sum(len(paths[p]) for p in api_b)
    assert operations == 30  # every route of the CRM v2 seed, documented once
    assert sum(len(paths[p]) for p in paths if p.startswith("/api/v1/api/customers")) == 11
    assert '"422"' not in str(served)


async def test_docs_pages_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/redoc")).status_code == 200


async def test_asyncapi_names_all_topics_and_command_types(client: httpx.AsyncClient) -> None:
    document = (await client.get("/asyncapi.json")).json()
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {
        "crm.commands",
        "crm.integration.events",
        "crm.customer-events",
        "crm.commands.dlq",
    }
    command_messages = document["channels"]["commands"]["messages"]
    assert len(command_messages) == 22
