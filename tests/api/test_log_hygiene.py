"""No log record carries a raw phone number, a bearer token or the signing secret.

Checked on the records themselves (caplog), before any redacting formatter: the code must
not put them into a log line in the first place. Exercised: the customer profile API's and the
CRM API's writes and reads with a phone, bad tokens, rejected and dead-lettered commands
whose payload holds a phone, and an integration event that is parked on a phone match.
"""

import json
import logging

import httpx
import pytest

from crm.runtime import Runtime
from tests.conftest import published
from tests.helpers import TEST_SECRET, auth, make_token, new_request_id, publish_raw

PHONE = "13987654321"
OTHER_PHONE = "+8613512345678"


def envelope(command_id: str, command_type: str, payload: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "commandId": command_id,
            "type": command_type,
            "tenantId": "t1",
            "actorId": "producer-1",
            "payload": payload,
        }
    ).encode()


async def test_no_phone_token_or_secret_in_log_records(
    runtime: Runtime, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # As the service runs (crm/logging_setup.py): aiokafka is held at WARNING whatever
    # CRM_LOG_LEVEL says, because its DEBUG lines quote whole records ("Sending (key=...
    # value=...)"), phones included.
    caplog.set_level(logging.WARNING, logger="aiokafka")
    token = make_token()
    headers = {"Authorization": f"Bearer {token}"}

    # HTTP: creates and reads with a phone, on both API families.
    created = await client.post(
        "/api/v1/api/customers", json={"name": "Log Ltd", "phone": PHONE}, headers=headers
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["data"]["id"]
    assert (await client.get(f"/api/v1/api/customers/{customer_id}", headers=headers)).is_success
    write = {**headers, "X-Request-ID": new_request_id()}
    other = await client.post(
        "/api/v1/crm/customers", json={"name": "Log Two", "phone": OTHER_PHONE}, headers=write
    )
    assert other.status_code == 201, other.text
    assert (await client.get("/api/v1/crm/customers", headers=headers)).is_success
    refused = await client.post(  # a validation error about the phone field
        "/api/v1/crm/contacts",
        json={"customerId": customer_id, "name": "Z", "phone": f"{PHONE}x"},
        headers={**headers, "X-Request-ID": new_request_id()},
    )
    assert refused.status_code == 400
    duplicate = await client.post(  # a domain rejection of a request holding a phone
        "/api/v1/crm/customers",
        json={"name": "Log Two", "phone": PHONE},
        headers={**headers, "X-Request-ID": new_request_id()},
    )
    assert duplicate.status_code == 409

    # Bad tokens: expired, wrong secret, garbage, another tenant.
    for bad in (make_token(exp=1), make_token(secret="x" * 40), f"{token}x"):
        response = await client.get("/api/v1/crm/customers", headers={"Authorization": bad})
        assert response.status_code == 401
        response = await client.get(
            "/api/v1/crm/customers", headers={"Authorization": f"Bearer {bad}"}
        )
        assert response.status_code == 401
    mismatch = await client.get("/api/v1/crm/customers", headers=auth(x_tenant_id="t9"))
    assert mismatch.status_code == 403

    # Kafka: a good command, a rejected one and dead-lettered ones, all holding a phone.
    commands = runtime.parts.topics.commands
    await publish_raw(
        runtime,
        commands,
        envelope("k-1", "customer.create", {"name": "Kafka Co", "phone": PHONE}),
        None,
        {},
    )
    await publish_raw(
        runtime,
        commands,
        envelope("k-2", "customer.update", {"customerId": "nobody", "phone": PHONE}),
        None,
        {},
    )
    await publish_raw(
        runtime,  # invalid: a model-level error quotes the whole payload
        commands,
        envelope(
            "k-3", "customer.update", {"customerId": customer_id, "name": None, "phone": PHONE}
        ),
        None,
        {},
    )
    await publish_raw(
        runtime,  # invalid envelope (no tenant) around a phone
        commands,
        json.dumps({"commandId": "k-4", "payload": {"phone": PHONE}}).encode(),
        None,
        {},
    )
    await publish_raw(
        runtime,  # an integration event parked on a phone match
        runtime.parts.topics.integration_events,
        json.dumps(
            {
                "specversion": "1.0",
                "id": "ev-1",
                "source": "wecom",
                "type": "identity.linked",
                "tenantid": "t1",
                "data": {
                    "systemType": "im",
                    "systemName": "wecom",
                    "externalId": "wx-9",
                    "match": {"phone": "13700001111"},
                },
            }
        ).encode(),
        None,
        {},
    )
    await publish_raw(
        runtime,  # invalid integration event data around a phone
        runtime.parts.topics.integration_events,
        json.dumps(
            {
                "specversion": "1.0",
                "id": "ev-2",
                "source": "wecom",
                "type": "identity.linked",
                "tenantid": "t1",
                "data": {"systemType": "im", "match": {"phone": PHONE}},
            }
        ).encode(),
        None,
        {},
    )
    dead = await published(runtime, runtime.parts.topics.commands_dlq)
    assert len(dead) == 3, dead

    assert caplog.records, "nothing was logged: the test would prove nothing"
    forbidden = {
        PHONE: "a raw phone",
        OTHER_PHONE: "a raw phone",
        "13700001111": "a raw phone",
        token: "a bearer token",
        token.split(".")[2]: "a token signature",
        TEST_SECRET: "the signing secret",
    }
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        text += " ".join(str(value) for value in vars(record).values())
        for value, what in forbidden.items():
            assert value not in text, f"{what} in a {record.name} log record: {text[:300]}"
