"""A typed client generated from `api_contract.yaml` (openapi-python-client, as a user of
the API would make one) creates and reads a customer, through both APIs, and gets the
typed entity back, not an untyped dict."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.helpers import auth, new_request_id

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "crm_generated_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package, generated into a temporary directory and imported."""
    where = tmp_path_factory.mktemp("client")
    config = where / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatting of the output: not needed to run it
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(ROOT / "api_contract.yaml"),
            "--output-path",
            str(where / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(where))
    try:
        yield __import__(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(package: ModuleType, name: str) -> Any:
    return __import__(f"{package.__name__}.{name}", fromlist=["_"])


def typed_client(package: ModuleType, http: httpx.AsyncClient) -> Any:
    """The generated client over the test's ASGI connection, with a bearer token (what
    `AuthenticatedClient` sends)."""
    client = module(package, "client").AuthenticatedClient(base_url="http://test", token="-")
    http.headers.update(auth())
    client.set_async_httpx_client(http)
    return client


async def test_the_generated_client_creates_and_reads_a_customer(
    generated: ModuleType, client: httpx.AsyncClient
) -> None:
    models = module(generated, "models")
    crm_api = "api.crm_api"
    api = typed_client(generated, client)
    create = module(generated, f"{crm_api}.create_customer")
    created = await create.asyncio(
        client=api,
        body=models.CreateCustomerRequest(name="Typed Co", phone="13812345678", tags=["x"]),
        x_request_id=new_request_id(),
    )
    assert isinstance(created, models.CustomerRead), created
    assert created.name == "Typed Co"
    assert created.tags == ["x"]
    assert created.phone == "138****5678"

    read = await module(generated, f"{crm_api}.get_customer").asyncio(
        client=api, customer_id=created.id
    )
    assert isinstance(read, models.CustomerRead)
    assert read.id == created.id
    assert isinstance(read.vip, models.VipStatus)

    page = await module(generated, f"{crm_api}.list_customers").asyncio(client=api)
    assert isinstance(page, models.CustomerPage)
    assert [item.id for item in page.items] == [created.id]

    duplicate = await create.asyncio_detailed(
        client=api, body=models.CreateCustomerRequest(name="typed co"), x_request_id="dup-1"
    )
    assert duplicate.status_code == 409
    assert isinstance(duplicate.parsed, models.CrmApiError)
    assert duplicate.parsed.message == "客户名称已存在"


async def test_the_generated_client_reads_api_a_envelopes(
    generated: ModuleType, client: httpx.AsyncClient
) -> None:
    models = module(generated, "models")
    api = typed_client(generated, client)
    profile_api = "api.customer_profile_api"
    created = await module(generated, f"{profile_api}.profile_create_customer").asyncio(
        client=api, body=models.CreateCustomerProfileRequest(name="Profile Co")
    )
    assert isinstance(created, models.CustomerEnvelope), created
    read = await module(generated, f"{profile_api}.profile_get_customer").asyncio(
        client=api, id=created.data.id
    )
    assert isinstance(read, models.CustomerEnvelope)
    assert read.data.name == "Profile Co"
