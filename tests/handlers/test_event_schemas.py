"""The AsyncAPI document describes the change events the service really publishes: one
message per event type, every object closed (no field it does not name), and events of
every type, as the relay publishes them (masked and clear), valid against their message's
schema (`previousvalues` against its `contentSchema` too)."""

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from crm.asyncapi import build_asyncapi, message_name
from handlers.outbox import EventPii
from handlers.pipeline import CommandProcessor
from handlers.relay import OutboxRelay
from schemas.envelope import CommandEnvelope, CommandType
from schemas.event_data import EVENT_TYPES, EVENT_TYPES_BY_NAME
from schemas.topics import Topics
from storage.database import Database
from storage.journal import CommandJournal
from tests.helpers import EventSink, indexed_memory_db

pytestmark = pytest.mark.wire_only

DOCUMENT = build_asyncapi(Topics())
MESSAGES = DOCUMENT["components"]["messages"]


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """`schema` resolving `#/components/...` references in the document."""
    return Draft202012Validator({**schema, "components": DOCUMENT["components"]})


class Scenario:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.processor = CommandProcessor(db)
        self.count = 0

    async def run(self, command_type: CommandType, payload: dict[str, Any]) -> Any:
        self.count += 1
        result = await self.processor.process(
            CommandEnvelope(
                command_id=f"cmd-{self.count}",
                type=command_type,
                tenant_id="t1",
                actor_id="u1",
                payload=payload,
            )
        )
        assert result.status == "succeeded", result
        return result


async def every_event_type(db: Database) -> None:
    """Commands that make the service publish every change event type."""
    s = Scenario(db)
    T = CommandType
    acme = (
        await s.run(
            T.CUSTOMER_CREATE,
            {"name": "Acme", "phone": "13812345678", "email": "ops@acme.example", "tags": ["a"]},
        )
    ).entity_id
    await s.run(T.CUSTOMER_UPDATE, {"customerId": acme, "name": "Acme Ltd", "remark": None})
    await s.run(T.CUSTOMER_MARK_VIP, {"customerId": acme, "reason": "big"})
    metrics = {"satisfactionScore": 90, "issueCount": 2, "averageResolutionMinutes": 30.5}
    refresh = {"customerId": acme, "source": "im", "metrics": metrics}
    await s.run(T.CUSTOMER_REFRESH_PROFILE, refresh)
    identity = {"systemType": "im", "systemName": "wecom", "externalId": "w1"}
    await s.run(T.CUSTOMER_BIND_EXTERNAL, {"customerId": acme, **identity, "displayName": "A"})
    await s.run(T.CUSTOMER_UNBIND_EXTERNAL, {"customerId": acme, **identity})
    await s.run(T.CUSTOMER_ADD_INTERACTION, {"customerId": acme, "interactionType": "call"})
    record = await s.run(
        T.CUSTOMER_ADD_SERVICE_RECORD,
        {
            "customerId": acme,
            "title": "Setup",
            "description": "first",
            "commitments": [{"title": "call back", "dueAt": "2026-12-01T00:00:00Z"}],
        },
    )
    [commitment_id] = record.data["commitmentIds"]
    await s.run(
        T.CUSTOMER_UPDATE_COMMITMENT,
        {"customerId": acme, "commitmentId": commitment_id, "progress": 100},
    )
    contact = (
        await s.run(T.CONTACT_CREATE, {"customerId": acme, "name": "Li", "isPrimary": True})
    ).entity_id
    await s.run(T.CONTACT_CREATE, {"customerId": acme, "name": "Wu", "isPrimary": True})
    await s.run(T.CONTACT_UPDATE, {"contactId": contact, "title": "CTO"})
    await s.run(T.CONTACT_DELETE, {"contactId": contact})
    opportunity = (
        await s.run(
            T.OPPORTUNITY_CREATE,
            {"customerId": acme, "name": "Deal", "amount": 1000, "stage": "lead"},
        )
    ).entity_id
    await s.run(T.OPPORTUNITY_UPDATE, {"opportunityId": opportunity, "stage": "won"})
    follow_up = (
        await s.run(
            T.FOLLOW_UP_CREATE,
            {
                "customerId": acme,
                "opportunityId": opportunity,
                "method": "call",
                "content": "called",
            },
        )
    ).entity_id
    await s.run(T.FOLLOW_UP_UPDATE, {"followUpId": follow_up, "content": "called twice"})
    await s.run(T.FOLLOW_UP_DELETE, {"followUpId": follow_up})
    await s.run(T.OPPORTUNITY_DELETE, {"opportunityId": opportunity})
    contract = (
        await s.run(T.CONTRACT_CREATE, {"contractNo": "C-1", "customerId": acme, "amount": 500})
    ).entity_id
    await s.run(T.PAYMENT_CREATE, {"contractId": contract, "amount": 200, "method": "wire"})
    await s.run(T.CUSTOMER_BIND_EXTERNAL, {"customerId": acme, **identity})
    await s.run(T.CUSTOMER_DELETE, {"customerId": acme})
    await s.run(T.CUSTOMER_IMPORT, {"items": [{"name": "Beta"}, {"name": "Gamma", "level": "A"}]})


@pytest.fixture
async def published() -> dict[EventPii, list[dict[str, Any]]]:
    db = await indexed_memory_db()
    await every_event_type(db)
    sent = {}
    for pii in EventPii:  # the same journal published both ways (nothing is marked published)
        sink = EventSink()
        relay = OutboxRelay(CommandJournal(db), sink, pii=pii)
        relay._journal.mark_published = _keep  # type: ignore[method-assign]
        await relay.run_once()
        sent[pii] = sink.sent
    return sent


async def _keep(doc_ids: list[str]) -> None:
    return None


@pytest.mark.parametrize("pii", list(EventPii))
async def test_every_published_event_is_valid_against_its_message(
    published: dict[EventPii, list[dict[str, Any]]], pii: EventPii
) -> None:
    events = published[pii]
    assert {event["type"] for event in events} == set(EVENT_TYPES_BY_NAME)  # every type
    for event in events:
        event_type = EVENT_TYPES_BY_NAME[event["type"]]
        payload = MESSAGES[message_name(event_type)]["payload"]
        errors = [e.message for e in validator(payload).iter_errors(event)]
        assert not errors, (event["type"], errors, event)
        if "previousvalues" in event:
            previous = json.loads(event["previousvalues"])
            content = payload["properties"]["previousvalues"]["contentSchema"]
            errors = [e.message for e in validator(content).iter_errors(previous)]
            assert not errors, (event["type"], errors, previous)
        assert ("changedfields" in event) == event_type.replaces


def test_the_schemas_are_strict_enough_to_catch_a_stray_field() -> None:
    payload = MESSAGES["event_crm_customer_created"]["payload"]
    event = MESSAGES["event_crm_customer_updated"]["examples"][0]["payload"]
    assert not list(validator(MESSAGES["event_crm_customer_updated"]["payload"]).iter_errors(event))
    assert list(validator(payload).iter_errors(event))  # another type, update extensions
    stray = {**event, "data": {**event["data"], "secret": 1}}
    assert list(validator(MESSAGES["event_crm_customer_updated"]["payload"]).iter_errors(stray))
    assert list(
        validator(MESSAGES["event_crm_customer_updated"]["payload"]).iter_errors(
            {**event, "sequence": 0}
        )
    )


def open_objects(schema: Any, path: str) -> list[str]:
    """Paths of object schemas that do not close themselves to unnamed fields."""
    found: list[str] = []
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            found += open_objects(item, f"{path}[{index}]")
    elif isinstance(schema, dict):
        is_object = schema.get("type") == "object" or "properties" in schema
        if is_object and schema.get("additionalProperties") is not False:
            found.append(path)
        for key, value in schema.items():
            found += open_objects(value, f"{path}.{key}")
    return found


def referenced(schema: Any) -> set[str]:
    """Names of the component schemas `schema` uses, transitively."""
    names: set[str] = set()
    todo = [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in names:
                    names.add(name)
                    todo.append(DOCUMENT["components"]["schemas"][name])
            todo += list(node.values())
        elif isinstance(node, list):
            todo += node
    return names


def test_one_message_per_event_type_with_no_open_object() -> None:
    channel = DOCUMENT["channels"]["customerEvents"]["messages"]
    assert set(channel) == {message_name(event_type) for event_type in EVENT_TYPES}
    for name in channel:
        payload = MESSAGES[name]["payload"]
        assert payload["properties"]["type"]["const"] == MESSAGES[name]["name"]
        assert open_objects(payload, name) == []
        for schema_name in referenced(payload):
            schema = DOCUMENT["components"]["schemas"][schema_name]
            assert open_objects(schema, schema_name) == []


def test_the_extensions_and_the_sequence_rule_are_described() -> None:
    payload = MESSAGES["event_crm_customer_updated"]["payload"]
    properties = payload["properties"]
    assert {"tenantid", "sequence", "causationid", "changeorigin"} <= set(payload["required"])
    assert properties["sequence"]["minimum"] == 1
    assert properties["previousvalues"]["contentMediaType"] == "application/json"
    description = MESSAGES["event_crm_customer_updated"]["description"]
    assert "no gaps" in description and "deduplicate by `id`" in description
