"""Schemathesis against the app's own OpenAPI, in-process through ASGI (both API families).

Schemathesis generates the requests from `api_contract.yaml` (which `tests/test_contracts.py`
keeps equal to what the app serves) and checks every answer: no 5xx, only status codes the
operation documents, documented content types, headers and response schemas. Requests go
through `httpx.ASGITransport` on the test's event loop, so they reach the same embedded
runtime (worker, store, relay) as the `client` fixture.

Every generated request is sent three times: with a token holding every permission (and
an `X-Request-ID` on POST/PATCH), without a token (401), and with another tenant's
`X-Tenant-Id` (403). Half of the positive cases use ids of entities that exist, so the
fuzzer reaches the worker's use cases and not only the 404s. Beyond the response checks,
no command may be dead-lettered (a request the facade accepts is a valid command) and no
write may time out into a 202 (the embedded worker answers at once).
"""

import os
import uuid
import weakref
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.runtime import Runtime
from schemas.envelope import CommandStatus, CommandType
from tests.conftest import published
from tests.helpers import auth, command_envelope

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.openapi.from_path(ROOT / "api_contract.yaml")
# The test sends its own credentials (every permission, none, another tenant's): the
# contract's bearer scheme is not a parameter for schemathesis to generate or leave out.
SCHEMA.config.generation.update(with_security_parameters=False)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
# Operations that need no token are the ones that do not document a 401.
PUBLIC = {
    label
    for label, operation in OPERATIONS.items()
    if "401" not in operation.definition.raw.get("responses", {})
}


def _negatable(operation: Any) -> bool:
    """Whether schemathesis can make invalid data for it (a body, a query, a bounded id)."""
    return any(
        parameter.location.value in ("body", "query")
        or "maxLength" in parameter.definition.get("schema", {})
        for parameter in operation.iter_parameters()
    ) or bool(list(operation.body))


NEGATABLE = {label for label, operation in OPERATIONS.items() if _negatable(operation)}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Known gaps in routes owned elsewhere, left out of the checks until they are fixed there:
# `GET /asyncapi.yaml` (http_facade/system_routes.py) answers `application/yaml` but its
# 200 is documented as `application/json`.
SKIPPED_CHECKS: dict[str, set[Any]] = {}
# Per operation; bounded so `make test` stays quick. `CRM_FUZZ_EXAMPLES=300 pytest tests/fuzz`
# digs deeper.
EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "5"))
TENANT = "t1"
OTHER_TENANT = "t2"


def fuzz_settings(max_examples: int) -> settings:
    # The fixtures are set up once per operation and shared by its examples (on purpose:
    # state builds up as a client's would); Hypothesis' per-example health checks do not
    # apply, and the first request of a run pays for imports.
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# --- entities that exist, so generated cases can name them ----------------------------------


async def _command(runtime: Runtime, command_type: CommandType, payload: dict[str, Any]) -> Any:
    envelope = command_envelope(command_type, payload, tenant=TENANT)
    result = await runtime.parts.processor.process(envelope)
    assert result.status is CommandStatus.SUCCEEDED, result
    return result


_EXISTING: "weakref.WeakKeyDictionary[Runtime, dict[str, str]]" = weakref.WeakKeyDictionary()


async def existing_ids(runtime: Runtime) -> dict[str, str]:
    """One entity of each kind (made once per runtime), by the names paths and bodies use."""
    if runtime not in _EXISTING:
        _EXISTING[runtime] = await _create_existing(runtime)
    return _EXISTING[runtime]


async def _create_existing(runtime: Runtime) -> dict[str, str]:
    customer = await _command(
        runtime, CommandType.CUSTOMER_CREATE, {"name": "Fuzz Ltd", "phone": "13812345678"}
    )
    customer_id = customer.entity_id
    contact = await _command(
        runtime, CommandType.CONTACT_CREATE, {"customerId": customer_id, "name": "Zhang"}
    )
    deal = await _command(
        runtime,
        CommandType.OPPORTUNITY_CREATE,
        {"customerId": customer_id, "name": "Deal", "amount": 1000},
    )
    follow_up = await _command(
        runtime, CommandType.FOLLOW_UP_CREATE, {"customerId": customer_id, "content": "call"}
    )
    contract = await _command(
        runtime,
        CommandType.CONTRACT_CREATE,
        {"contractNo": "HT-FUZZ-1", "customerId": customer_id, "amount": 5000},
    )
    record = await _command(
        runtime,
        CommandType.CUSTOMER_ADD_SERVICE_RECORD,
        {
            "customerId": customer_id,
            "title": "Onboarding",
            "description": "kick-off",
            "commitments": [{"title": "send the quote"}],
        },
    )
    return {
        "id": customer_id,
        "customer_id": customer_id,
        "customerId": customer_id,
        "contact_id": contact.entity_id,
        "contactId": contact.entity_id,
        "opportunity_id": deal.entity_id,
        "opportunityId": deal.entity_id,
        "follow_up_id": follow_up.entity_id,
        "contract_id": contract.entity_id,
        "contractId": contract.entity_id,
        "commitmentId": record.data["commitments"][0]["id"],
        "commandId": customer.command_id,
    }


def aim_at_existing(case: Case, known: dict[str, str]) -> None:
    """Replace generated ids (path and top-level body fields) with ids that exist."""
    if case.path_parameters:
        case.path_parameters = {
            name: known.get(name, value) for name, value in case.path_parameters.items()
        }
    if isinstance(case.body, dict):
        case.body = {
            name: known[name] if name in known and isinstance(value, str) else value
            for name, value in case.body.items()
        }


# --- sending a case and checking the answer ---------------------------------------------------


async def send(client: httpx.AsyncClient, case: Case, headers: dict[str, str]) -> httpx.Response:
    """The case as schemathesis would send it, with our auth headers instead of its own."""
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    sent = {
        name: value
        for name, value in kwargs["headers"].items()
        if name.lower() not in ("authorization", "x-tenant-id", "x-request-id")
    }
    if case.method.upper() in ("POST", "PATCH"):
        sent["X-Request-ID"] = str(uuid.uuid4())
    sent.update(headers)
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif "data" in kwargs:
        body["content"] = kwargs["data"]
    return await client.request(
        case.method, kwargs["url"], headers=sent, params=kwargs.get("params"), **body
    )


def validate(case: Case, response: httpx.Response, checks: list[Any]) -> None:
    skipped = SKIPPED_CHECKS.get(case.operation.label, set())
    case.validate_response(response, checks=[check for check in checks if check not in skipped])


def error_code(response: httpx.Response) -> str:
    """The `code` of either API family's error envelope (their shapes are schema-checked)."""
    body = response.json()
    return str(body["error"]["code"] if "error" in body else body["code"])


async def dead_letters(runtime: Runtime) -> list[dict[str, Any]]:
    return await published(runtime, runtime.parts.topics.commands_dlq)


async def check_with_full_permissions(
    runtime: Runtime, client: httpx.AsyncClient, case: Case, checks: list[Any]
) -> httpx.Response:
    response = await send(client, case, auth(tenant=TENANT))
    validate(case, response, checks)
    assert response.status_code != 202, f"write not answered in time: {response.text}"
    assert await dead_letters(runtime) == [], "the facade accepted a request the worker refused"
    return response


async def check_without_token(client: httpx.AsyncClient, case: Case) -> None:
    response = await send(client, case, {})
    validate(case, response, CHECKS)
    if case.operation.label in PUBLIC:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 401, response.text


async def check_other_tenant(client: httpx.AsyncClient, case: Case) -> None:
    response = await send(client, case, auth(tenant=TENANT, x_tenant_id=OTHER_TENANT))
    validate(case, response, CHECKS)
    if case.operation.label in PUBLIC:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert error_code(response) == "TENANT_MISMATCH"


# --- the fuzz test ------------------------------------------------------------------------


@pytest.mark.parametrize("label", sorted(OPERATIONS))
@fuzz_settings(EXAMPLES)
@given(data=st.data())
async def test_operation(
    runtime: Runtime, client: httpx.AsyncClient, label: str, data: Any
) -> None:
    """Valid requests (sent with full permissions, without a token, for the wrong tenant)
    and, where schemathesis can make them, invalid ones: a documented answer, never a 5xx."""
    operation = OPERATIONS[label]
    modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if label in NEGATABLE else [])
    mode = data.draw(st.sampled_from(modes), "mode")
    case = data.draw(operation.as_strategy(generation_mode=mode), "case")
    if mode is GenerationMode.NEGATIVE:
        await check_with_full_permissions(runtime, client, case, [*CHECKS, negative_data_rejection])
        return
    if data.draw(st.booleans(), "aim at existing ids"):
        aim_at_existing(case, await existing_ids(runtime))
    await check_with_full_permissions(runtime, client, case, CHECKS)
    await check_without_token(client, case)
    await check_other_tenant(client, case)
