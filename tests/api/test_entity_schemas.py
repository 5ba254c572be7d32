"""The OpenAPI's named response schemas (`schemas/views.py`) say what a client gets: real
answers of every entity's routes, through both APIs, validate against the schema their
operation documents, and name no field the schema leaves out."""

import copy
import re
from typing import Any

import httpx
import jsonschema
import pytest

from tests.helpers import ALL_PERMISSIONS, auth, new_request_id

B = "/api/v1/crm"
A = "/api/v1/api/customers"
READ_PII = (*ALL_PERMISSIONS, "customers.pii")


def strict(node: Any) -> Any:
    """The schema with `additionalProperties: false` wherever it names properties: an
    answer field the documentation does not name fails validation."""
    if isinstance(node, dict):
        node = {key: strict(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(item) for item in node]
    return node


class Documented:
    """Checks answers against the served OpenAPI."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.components = strict(copy.deepcopy(spec["components"]))
        self.checked: set[tuple[str, str, int]] = set()

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for template, operations in self.spec["paths"].items():
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            if re.match(pattern, path) and method.lower() in operations:
                return template, operations[method.lower()]
        raise AssertionError(f"{method} {path} is not in the OpenAPI")

    def check(self, response: httpx.Response) -> Any:
        method, path = response.request.method, response.request.url.path
        template, operation = self.operation(method, path)
        documented = operation["responses"][str(response.status_code)]
        schema = documented["content"]["application/json"]["schema"]
        assert "$ref" in schema, f"{method} {template} {response.status_code}: no named schema"
        body = response.json()
        jsonschema.validate(
            body,
            {**schema, "components": self.components},
            cls=jsonschema.Draft202012Validator,
        )
        self.checked.add((method, template, response.status_code))
        return body


@pytest.fixture
async def documented(client: httpx.AsyncClient) -> Documented:
    return Documented((await client.get("/openapi.json")).json())


async def send(
    client: httpx.AsyncClient,
    documented: Documented,
    method: str,
    path: str,
    body: Any = None,
    permissions: tuple[str, ...] = ALL_PERMISSIONS,
) -> Any:
    headers = auth(permissions, request_id=new_request_id())
    response = await client.request(method, path, json=body, headers=headers)
    assert response.status_code < 300, (method, path, response.text)
    return documented.check(response)


async def test_api_b_answers_match_their_schemas(
    client: httpx.AsyncClient, documented: Documented
) -> None:
    async def b(method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return await send(client, documented, method, B + path, body, **kwargs)

    customer = await b(
        "POST",
        "/customers",
        {"name": "Acme", "phone": "13812345678", "email": "a@acme.cn", "tags": ["key"]},
    )
    await b("POST", "/customers", {"name": "Bare"})
    await b("GET", f"/customers/{customer['id']}", permissions=READ_PII)
    await b("PATCH", f"/customers/{customer['id']}", {"remark": "r", "level": "A"})
    await b("GET", "/customers")
    await b("GET", "/customers/export")
    await b("POST", "/customers/import", {"items": [{"name": "New"}, {"name": "Acme"}, {}]})
    cid = customer["id"]
    contact = await b("POST", "/contacts", {"customerId": cid, "name": "Bob", "isPrimary": True})
    await b("GET", f"/contacts/{contact['id']}")
    await b("PATCH", f"/contacts/{contact['id']}", {"title": "CEO"})
    await b("GET", "/contacts")
    deal = await b("POST", "/opportunities", {"customerId": cid, "name": "Deal", "amount": 900})
    await b("PATCH", f"/opportunities/{deal['id']}", {"stage": "won"})
    await b("GET", f"/opportunities/{deal['id']}")
    await b("GET", "/opportunities")
    follow_up = await b(
        "POST",
        "/follow-ups",
        {"customerId": cid, "opportunityId": deal["id"], "method": "call", "content": "hi"},
    )
    await b("PATCH", f"/follow-ups/{follow_up['id']}", {"content": "again"})
    await b("GET", f"/follow-ups/{follow_up['id']}")
    await b("GET", "/follow-ups")
    contract = await b(
        "POST", "/contracts", {"contractNo": "C-1", "customerId": cid, "amount": 500}
    )
    await b(
        "POST",
        "/contracts",
        {"contractNo": "C-2", "customerId": cid, "amount": 1, "status": "draft"},
    )
    await b("GET", f"/contracts/{contract['id']}")
    await b("GET", "/contracts")
    payment = await b("POST", "/payments", {"contractId": contract["id"], "amount": 100})
    assert payment["customerId"] == cid
    await b("GET", "/payments")
    await b("GET", "/reports/funnel")
    await b("GET", "/metrics")
    for kind, entity in (("follow-ups", follow_up), ("opportunities", deal), ("contacts", contact)):
        await b("DELETE", f"/{kind}/{entity['id']}")
    await b("DELETE", f"/customers/{cid}")
    assert len(documented.checked) >= 25


async def test_api_a_answers_match_their_schemas(
    client: httpx.AsyncClient, documented: Documented
) -> None:
    async def a(method: str, path: str, body: Any = None) -> Any:
        return (await send(client, documented, method, A + path, body))["data"]

    customer = await a("POST", "", {"name": "Profile Co", "phone": "13811112222", "tags": ["x"]})
    cid = customer["id"]
    await a("GET", f"/{cid}")
    identity = {"systemType": "im", "systemName": "wecom", "externalId": "e1"}
    await a("POST", f"/{cid}/bind-external", {**identity, "displayName": "E"})
    await a("GET", f"/{cid}/bindings")
    await a("DELETE", f"/{cid}/bindings", identity)
    metrics = {"satisfactionScore": 80, "issueCount": 1, "averageResolutionMinutes": 5}
    await a("POST", f"/{cid}/refresh", {"metrics": metrics, "source": "crm"})
    await a("POST", f"/{cid}/interactions", {"interactionType": "call", "notes": "n"})
    await a("GET", f"/{cid}/interactions")
    record = await a(
        "POST",
        f"/{cid}/service-records",
        {"title": "t", "description": "d", "commitments": [{"title": "call back"}]},
    )
    commitment = record["commitments"][0]["id"]
    await a("PATCH", f"/{cid}/commitments/{commitment}", {"progress": 100})
    await a("POST", f"/{cid}/mark-vip", {"reason": "big"})
    assert len(documented.checked) == 11


async def test_the_command_status_matches_its_schema(
    client: httpx.AsyncClient, documented: Documented
) -> None:
    request_id = new_request_id()
    created = await client.post(
        f"{B}/customers", json={"name": "Status Co"}, headers=auth(request_id=request_id)
    )
    assert created.status_code == 201
    status = documented.check(await client.get(f"{B}/commands/{request_id}", headers=auth()))
    assert status["status"] == "succeeded"


def test_strict_refuses_an_unnamed_field() -> None:
    """The check can fail: a field the schema does not name is refused."""
    schema = strict({"type": "object", "properties": {"id": {"type": "string"}}})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "1", "extra": 2}, schema)
