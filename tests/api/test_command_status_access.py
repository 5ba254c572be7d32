"""The command-status resource obeys the rules of the entity a command is about: the
permission that reads it, phones masked without `customers.pii`, another tenant's command
404 (issue 20 item 2). On the facade alone; the commands are decided in-process."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from http_facade.system_routes import read_permission_of
from schemas.envelope import CommandEnvelope, CommandStatus, CommandType
from tests.api.facade_only import FacadeOnly, facade_only
from tests.helpers import auth

STATUS = "/api/v1/crm/commands"
CUSTOMERS_READ = ("customers.read",)
CRM_READ = ("crm.read",)
PHONE, MASKED = "13812345678", "138****5678"


@pytest.fixture
async def facade() -> AsyncIterator[FacadeOnly]:
    async with facade_only() as running:
        yield running


async def run(
    facade: FacadeOnly, command_id: str, command_type: CommandType, payload: dict[str, Any]
) -> Any:
    envelope = CommandEnvelope(
        command_id=command_id, type=command_type, tenant_id="t1", actor_id="u1", payload=payload
    )
    result = await facade.decide(envelope)
    assert result.status is CommandStatus.SUCCEEDED, result
    return result


async def status_of(
    facade: FacadeOnly, command_id: str, permissions: tuple[str, ...], **kw: Any
) -> httpx.Response:
    return await facade.http.get(f"{STATUS}/{command_id}", headers=auth(permissions, **kw))


@pytest.fixture
async def commands(facade: FacadeOnly) -> dict[str, str]:
    """A customer, a contact (both with a phone) and an opportunity, by their command ids."""
    customer = await run(
        facade, "cmd-customer", CommandType.CUSTOMER_CREATE, {"name": "Acme", "phone": PHONE}
    )
    await run(
        facade,
        "cmd-contact",
        CommandType.CONTACT_CREATE,
        {"customerId": customer.entity_id, "name": "Li", "phone": PHONE},
    )
    await run(
        facade,
        "cmd-deal",
        CommandType.OPPORTUNITY_CREATE,
        {"customerId": customer.entity_id, "name": "Deal", "amount": 10},
    )
    return {"customer": "cmd-customer", "contact": "cmd-contact", "deal": "cmd-deal"}


@pytest.mark.parametrize("which", ["customer", "contact"])
async def test_phones_in_a_result_are_masked_without_pii(
    facade: FacadeOnly, commands: dict[str, str], which: str
) -> None:
    masked = await status_of(facade, commands[which], CUSTOMERS_READ)
    assert masked.status_code == 200, masked.text
    assert masked.json()["data"]["phone"] == MASKED
    assert PHONE not in masked.text
    clear = await status_of(facade, commands[which], (*CUSTOMERS_READ, "customers.pii"))
    assert clear.json()["data"]["phone"] == PHONE


async def test_a_customer_command_needs_customers_read(
    facade: FacadeOnly, commands: dict[str, str]
) -> None:
    for which in ("customer", "contact"):
        refused = await status_of(facade, commands[which], CRM_READ)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "FORBIDDEN"
        assert PHONE not in refused.text and "Acme" not in refused.text


async def test_a_sales_command_needs_crm_read(facade: FacadeOnly, commands: dict[str, str]) -> None:
    refused = await status_of(facade, commands["deal"], CUSTOMERS_READ)
    assert refused.status_code == 403, refused.text
    allowed = await status_of(facade, commands["deal"], CRM_READ)
    assert allowed.status_code == 200
    assert allowed.json()["data"]["name"] == "Deal"


async def test_another_tenants_command_is_404(facade: FacadeOnly, commands: dict[str, str]) -> None:
    for which in commands.values():
        response = await status_of(facade, which, ("customers.read", "crm.read"), tenant="t2")
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "COMMAND_NOT_FOUND"


async def test_without_either_read_permission_it_is_403(
    facade: FacadeOnly, commands: dict[str, str]
) -> None:
    response = await status_of(facade, commands["customer"], ("customers.write", "crm.write"))
    assert response.status_code == 403


async def test_a_pending_command_follows_the_same_rules(facade: FacadeOnly) -> None:
    """Answered 202 (no worker here): its status is `pending`, read with its permission."""
    sent = await facade.http.post(
        "/api/v1/crm/opportunities",
        json={"customerId": "c1", "name": "Deal"},
        headers=auth(request_id="cmd-pending"),
    )
    assert sent.status_code == 202, sent.text
    assert (await status_of(facade, "cmd-pending", CUSTOMERS_READ)).status_code == 403
    pending = await status_of(facade, "cmd-pending", CRM_READ)
    assert pending.json()["status"] == "pending"


@pytest.mark.parametrize("command_type", list(CommandType), ids=lambda t: t.value)
def test_every_command_type_is_read_with_its_entitys_permission(command_type: CommandType) -> None:
    entity = command_type.value.split(".")[0]
    expected = "customers.read" if entity in ("customer", "contact") else "crm.read"
    assert read_permission_of(command_type.value) == (expected,)


def test_an_unknown_command_type_needs_both_read_permissions() -> None:
    assert read_permission_of("teleport.now") == ("customers.read", "crm.read")
