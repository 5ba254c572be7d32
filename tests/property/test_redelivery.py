"""Property: redelivered commands have no effect (docs/architecture.md, "Commands").

Hypothesis builds a sequence of commands of every type (creates, updates, deletes, binds,
imports, payments, ... with name, contract-number and identity collisions, and references
to entities that exist, were refused or never were), then the same sequence with repeats:
copies of an envelope delivered again anywhere after the original. Both go through the
worker as raw messages on the commands topic, each on a fresh embedded runtime (its own
store and broker). The end state of every collection, the command results and the change
events after the relay must be the same; the repeated run's events must be 1..n per
customer, in publish order.
"""

import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.runtime import Runtime
from schemas.ids import created_customer_id, derived_id
from storage.contacts import CONTACTS
from storage.contracts import CONTRACTS
from storage.customer_profile import BINDINGS, COMMITMENTS, INTERACTIONS, SERVICE_RECORDS
from storage.customers import CUSTOMERS
from storage.follow_ups import FOLLOW_UPS
from storage.journal import JOURNAL
from storage.opportunities import OPPORTUNITIES
from storage.parked_events import PARKED_EVENTS
from storage.payments import PAYMENTS
from tests.conftest import attach_probe, published
from tests.helpers import publish_raw
from tests.integration.backends import Services, deployment

TENANT = "t1"
ISSUED_AT = "2026-11-21T08:00:00.000Z"
ENTITY_COLLECTIONS = (
    CUSTOMERS,
    CONTACTS,
    OPPORTUNITIES,
    FOLLOW_UPS,
    CONTRACTS,
    PAYMENTS,
    BINDINGS,
    INTERACTIONS,
    SERVICE_RECORDS,
    COMMITMENTS,
    PARKED_EVENTS,
)
# Few distinct values, so that names, contract numbers and identities collide.
NAMES = st.sampled_from(["Acme", "acme  ", "Globex", "Initech", "Umbrella", "Hooli", "Stark"])
PHONES = st.sampled_from(["13812345678", "13900001111"])
EXTERNAL_IDS = st.sampled_from(["wx-1", "wx-2"])
MOMENTS = st.sampled_from(["2026-01-05T10:00:00Z", "2026-06-01T08:30:00Z", "2026-11-20T23:59:59Z"])
MAX_COMMANDS = 14
MAX_REPEATS = 6
# Modest so `make test` stays quick; `CRM_PROPERTY_EXAMPLES=2000 pytest tests/property` digs.
EXAMPLES = int(os.environ.get("CRM_PROPERTY_EXAMPLES", "30"))


# --- generating a sequence of commands -----------------------------------------------------


@dataclass
class Known:
    """Ids the commands generated so far would create (whether or not they succeed)."""

    customers: list[str] = field(default_factory=list)
    contacts: list[str] = field(default_factory=list)
    opportunities: list[str] = field(default_factory=list)
    follow_ups: list[str] = field(default_factory=list)
    contracts: list[str] = field(default_factory=list)
    commitments: list[tuple[str, str]] = field(default_factory=list)  # (customer, commitment)


Draw = Callable[[st.SearchStrategy[Any]], Any]
Payload = dict[str, Any]


def pick(draw: Draw, ids: list[str], unknown: str) -> str:
    """Mostly an id generated before, sometimes one that never existed."""
    return str(draw(st.sampled_from([*ids, unknown]))) if ids else unknown


def customer_create(draw: Draw, known: Known, command_id: str) -> Payload:
    known.customers.append(created_customer_id(TENANT, command_id))
    payload: Payload = {"name": draw(NAMES)}
    if draw(st.booleans()):
        payload["phone"] = draw(PHONES)
    return payload


def customer_import(draw: Draw, known: Known, command_id: str) -> Payload:
    items: list[Any] = draw(
        st.lists(st.builds(lambda n: {"name": n}, NAMES), min_size=1, max_size=3)
    )
    if draw(st.booleans()):
        items.append({"phone": "no name"})  # an invalid item, reported per item
    known.customers += [derived_id(TENANT, command_id, f"customer:{i}") for i in range(len(items))]
    return {"items": items}


def customer_update(draw: Draw, known: Known, command_id: str) -> Payload:
    payload: Payload = {"customerId": pick(draw, known.customers, "no-such-customer")}
    if draw(st.booleans()):
        payload["name"] = draw(NAMES)
    payload["level"] = draw(st.sampled_from(["A", "B", None]))
    return payload


def customer_delete(draw: Draw, known: Known, command_id: str) -> Payload:
    return {"customerId": pick(draw, known.customers, "no-such-customer")}


def identity(draw: Draw) -> Payload:
    return {"systemType": "im", "systemName": "wecom", "externalId": draw(EXTERNAL_IDS)}


def bind_external(draw: Draw, known: Known, command_id: str) -> Payload:
    customer_id = pick(draw, known.customers, "no-such-customer")
    return {"customerId": customer_id, **identity(draw), "displayName": "Zhang"}


def unbind_external(draw: Draw, known: Known, command_id: str) -> Payload:
    return {"customerId": pick(draw, known.customers, "no-such-customer"), **identity(draw)}


def refresh_profile(draw: Draw, known: Known, command_id: str) -> Payload:
    metrics = {
        "satisfactionScore": draw(st.integers(0, 100)),
        "issueCount": draw(st.integers(0, 20)),
        "averageResolutionMinutes": draw(st.integers(0, 600)),
    }
    return {
        "customerId": pick(draw, known.customers, "no-such-customer"),
        "source": "crm",
        "metrics": metrics,
    }


def add_interaction(draw: Draw, known: Known, command_id: str) -> Payload:
    return {
        "customerId": pick(draw, known.customers, "no-such-customer"),
        "interactionType": draw(st.sampled_from(["call", "chat", "email", "meeting"])),
        "occurredAt": draw(MOMENTS),
        "notes": "talked",
    }


def add_service_record(draw: Draw, known: Known, command_id: str) -> Payload:
    customer_id = pick(draw, known.customers, "no-such-customer")
    count = draw(st.integers(0, 2))
    known.commitments += [
        (customer_id, derived_id(TENANT, command_id, f"commitment:{i}")) for i in range(count)
    ]
    return {
        "customerId": customer_id,
        "title": "Onboarding",
        "description": "kick-off",
        "commitments": [{"title": f"promise {i}", "dueAt": draw(MOMENTS)} for i in range(count)],
    }


def update_commitment(draw: Draw, known: Known, command_id: str) -> Payload:
    customer_id, commitment_id = draw(
        st.sampled_from([*known.commitments, ("no-such-customer", "no-such-commitment")])
    )
    return {
        "customerId": customer_id,
        "commitmentId": commitment_id,
        "progress": draw(st.sampled_from([0, 40, 100])),
    }


def mark_vip(draw: Draw, known: Known, command_id: str) -> Payload:
    return {"customerId": pick(draw, known.customers, "no-such-customer"), "reason": "big"}


def contact_create(draw: Draw, known: Known, command_id: str) -> Payload:
    known.contacts.append(derived_id(TENANT, command_id, "contact"))
    return {
        "customerId": pick(draw, known.customers, "no-such-customer"),
        "name": "Zhang",
        "isPrimary": draw(st.booleans()),
    }


def contact_update(draw: Draw, known: Known, command_id: str) -> Payload:
    return {
        "contactId": pick(draw, known.contacts, "no-such-contact"),
        "title": draw(st.sampled_from(["CEO", "CTO"])),
        "isPrimary": draw(st.booleans()),
    }


def contact_delete(draw: Draw, known: Known, command_id: str) -> Payload:
    return {"contactId": pick(draw, known.contacts, "no-such-contact")}


STAGES = st.sampled_from(["lead", "qualified", "proposal", "negotiation", "won", "lost"])


def opportunity_create(draw: Draw, known: Known, command_id: str) -> Payload:
    known.opportunities.append(derived_id(TENANT, command_id, "opportunity"))
    return {
        "customerId": pick(draw, known.customers, "no-such-customer"),
        "name": "Deal",
        "amount": draw(st.integers(0, 10_000)),
        "stage": draw(STAGES),
    }


def opportunity_update(draw: Draw, known: Known, command_id: str) -> Payload:
    return {
        "opportunityId": pick(draw, known.opportunities, "no-such-opportunity"),
        "stage": draw(STAGES),
        "amount": draw(st.integers(0, 10_000)),
    }


def opportunity_delete(draw: Draw, known: Known, command_id: str) -> Payload:
    return {"opportunityId": pick(draw, known.opportunities, "no-such-opportunity")}


def follow_up_create(draw: Draw, known: Known, command_id: str) -> Payload:
    known.follow_ups.append(derived_id(TENANT, command_id, "follow_up"))
    return {
        "customerId": pick(draw, known.customers, "no-such-customer"),
        "method": "call",
        "content": "called",
        "followedAt": draw(MOMENTS),
    }


def follow_up_update(draw: Draw, known: Known, command_id: str) -> Payload:
    return {
        "followUpId": pick(draw, known.follow_ups, "no-such-follow-up"),
        "content": draw(st.sampled_from(["again", "later"])),
    }


def follow_up_delete(draw: Draw, known: Known, command_id: str) -> Payload:
    return {"followUpId": pick(draw, known.follow_ups, "no-such-follow-up")}


def contract_create(draw: Draw, known: Known, command_id: str) -> Payload:
    known.contracts.append(derived_id(TENANT, command_id, "contract"))
    return {
        "contractNo": draw(st.sampled_from(["HT-1", "HT-2"])),
        "customerId": pick(draw, known.customers, "no-such-customer"),
        "amount": draw(st.sampled_from([500, 1000])),
        "signedAt": draw(MOMENTS),
    }


def payment_create(draw: Draw, known: Known, command_id: str) -> Payload:
    return {
        "contractId": pick(draw, known.contracts, "no-such-contract"),
        "amount": draw(st.sampled_from([100, 400, 700])),
        "paidAt": draw(MOMENTS),
    }


COMMANDS: dict[str, Callable[[Draw, Known, str], Payload]] = {
    "customer.create": customer_create,
    "customer.import": customer_import,
    "customer.update": customer_update,
    "customer.delete": customer_delete,
    "customer.bind_external": bind_external,
    "customer.unbind_external": unbind_external,
    "customer.refresh_profile": refresh_profile,
    "customer.add_interaction": add_interaction,
    "customer.add_service_record": add_service_record,
    "customer.update_commitment": update_commitment,
    "customer.mark_vip": mark_vip,
    "contact.create": contact_create,
    "contact.update": contact_update,
    "contact.delete": contact_delete,
    "opportunity.create": opportunity_create,
    "opportunity.update": opportunity_update,
    "opportunity.delete": opportunity_delete,
    "follow_up.create": follow_up_create,
    "follow_up.update": follow_up_update,
    "follow_up.delete": follow_up_delete,
    "contract.create": contract_create,
    "payment.create": payment_create,
}


@st.composite
def command_sequences(draw: Draw) -> list[dict[str, Any]]:
    """A few customers first (so that most commands are about one that exists), then any
    commands, in any order."""
    known = Known()
    first = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    types = ["customer.create"] * len(first) + draw(
        st.lists(st.sampled_from(sorted(COMMANDS)), max_size=MAX_COMMANDS - len(first))
    )
    envelopes = []
    for index, command_type in enumerate(types):
        command_id = f"cmd-{index}"
        payload = COMMANDS[command_type](draw, known, command_id)
        if index < len(first):
            payload["name"] = first[index]
        envelopes.append(
            {
                "commandId": command_id,
                "type": command_type,
                "tenantId": TENANT,
                "actorId": "producer-1",
                "issuedAt": ISSUED_AT,
                "payload": payload,
            }
        )
    return envelopes


@st.composite
def with_repeats(draw: Draw) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A sequence, and the same sequence with copies delivered again later on."""
    sequence = draw(command_sequences())
    last = len(sequence) - 1
    repeats: list[tuple[int, int]] = draw(
        st.lists(
            st.integers(0, last).flatmap(lambda i: st.tuples(st.just(i), st.integers(i, last))),
            min_size=1,
            max_size=MAX_REPEATS,
        )
    )
    delivered = []
    for position, envelope in enumerate(sequence):
        delivered.append(envelope)
        delivered += [sequence[source] for source, after in repeats if after == position]
    return sequence, delivered


# --- running a sequence and reading what it did ---------------------------------------------


@asynccontextmanager
async def fresh_runtime(services: Services) -> AsyncIterator[Runtime]:
    """A worker of its own (topics, groups, store) on the session's broker."""
    async with deployment(services) as ([runtime], probe):
        attach_probe(runtime, probe)
        yield runtime


def key_of(envelope: dict[str, Any]) -> bytes:
    customer_id = envelope["payload"].get("customerId") or envelope["commandId"]
    return f"{envelope['tenantId']}:{customer_id}".encode()


async def deliver(runtime: Runtime, envelopes: list[dict[str, Any]]) -> None:
    for envelope in envelopes:
        value = json.dumps(envelope).encode()
        await publish_raw(runtime, runtime.parts.topics.commands, value, key_of(envelope), {})


def timeless(value: Any) -> Any:
    """The value without the moments it was handled at (two runs differ only in those)."""
    if isinstance(value, dict):
        return {
            # `previousvalues` is a JSON string (CloudEvents extensions are scalars)
            key: timeless(json.loads(item) if key == "previousvalues" else item)
            if key != "changedfields"
            # the moments are named there too: `updatedAt` is a changed field only when
            # two commands were not handled within the same millisecond
            else ",".join(name for name in item.split(",") if name and not name.endswith("At"))
            for key, item in value.items()
            if not (key.endswith("At") or key in ("time", "_seq"))
        }
    if isinstance(value, list):
        return [timeless(item) for item in value]
    return value


async def end_state(runtime: Runtime) -> dict[str, Any]:
    db = runtime.parts.store.db
    state: dict[str, Any] = {}
    for name in ENTITY_COLLECTIONS:
        docs = await db[name].find({}).to_list()
        state[name] = sorted((timeless(doc) for doc in docs), key=lambda doc: str(doc["_id"]))
    journal = await db[JOURNAL].find({}).to_list()
    state["results"] = {doc["_id"]: timeless(doc["result"]) for doc in journal}
    return state


async def change_events(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """The published change events by id (a relay may publish one twice: kept once), after
    checking that each customer's events went out as sequence 1..n."""
    by_id: dict[str, dict[str, Any]] = {}
    sequences: dict[str, list[int]] = defaultdict(list)
    for message in await published(runtime, runtime.parts.topics.customer_events):
        event = message["value"]
        if event["id"] in by_id:
            continue
        by_id[event["id"]] = timeless(event)
        sequences[message["key"]].append(event["sequence"])
    for key, numbers in sequences.items():
        assert numbers == list(range(1, len(numbers) + 1)), f"{key}: {numbers}"
    return by_id


async def dead_letters(runtime: Runtime) -> list[dict[str, Any]]:
    return await published(runtime, runtime.parts.topics.commands_dlq)


# --- the property -----------------------------------------------------------------------


@pytest.mark.timeout(900)  # EXAMPLES × two worker deployments: minutes, not one hang
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(runs=with_repeats())
async def test_repeated_commands_have_the_effects_of_the_sequence_without_repeats(
    wire_services: Services,
    runs: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    once, repeated = runs
    async with fresh_runtime(wire_services) as first, fresh_runtime(wire_services) as second:
        await deliver(first, once)
        await deliver(second, repeated)
        assert await dead_letters(first) == await dead_letters(second) == []
        events_once = await change_events(first)
        events_repeated = await change_events(second)
        assert set(events_repeated) == set(events_once)
        assert events_repeated == events_once
        assert await end_state(second) == await end_state(first)
