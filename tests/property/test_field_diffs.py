"""Property: every event about a document that replaced a stored one (`*.updated`,
`vip_marked`, `profile_refreshed`, `*.deleted`) names the fields that changed and their
previous values; putting those back into its `data` gives the stored document as it was
before the command, on every update type, with phones and emails clear or masked."""

import asyncio
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.outbox import EventPii, each_record, wire_event
from handlers.pipeline import CommandProcessor
from schemas.envelope import CommandEnvelope, CommandType
from schemas.events import previous_view
from schemas.pii import masked_contacts
from storage.database import Database, Document
from storage.documents import public
from storage.journal import JOURNAL, journal_id
from tests.helpers import indexed_memory_db

COLLECTIONS = ("customers", "contacts", "opportunities", "follow_ups", "contracts", "commitments")
REPLACING = ("updated", "vip_marked", "profile_refreshed", "deleted")  # the actions with diffs

PHONES = st.sampled_from(["13812345678", "13900001111", "+44 20 7946 0958"])
EMAILS = st.sampled_from(["alice@example.com", "bob@example.org"])
TEXTS = st.sampled_from(["alpha", "beta", "gamma"])
TIMES = st.sampled_from(["2026-11-20T09:30:00.000Z", "2026-12-01T00:00:00.000Z"])


def maybe(values: st.SearchStrategy[Any], clearable: bool = True) -> st.SearchStrategy[Any]:
    """A field's value in an update: absent (the caller drops it), a value, or a clear."""
    options = [st.just(...), values]
    if clearable:
        options.append(st.none())
    return st.one_of(*options)


def payload(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not ...}


def fixed(**fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    """A payload strategy: fixed ids plus generated optional fields."""
    return st.fixed_dictionaries(
        {
            name: value if isinstance(value, st.SearchStrategy) else st.just(value)
            for name, value in fields.items()
        }
    ).map(payload)


def commands(ids: dict[str, str]) -> st.SearchStrategy[tuple[CommandType, dict[str, Any]]]:
    customer = ids["customer"]
    return st.one_of(
        st.tuples(
            st.just(CommandType.CUSTOMER_UPDATE),
            fixed(
                customerId=customer,
                name=maybe(st.sampled_from(["Acme", "Acme Ltd", "Other"]), clearable=False),
                phone=maybe(PHONES),
                email=maybe(EMAILS),
                company=maybe(TEXTS),
                remark=maybe(TEXTS),
                tags=maybe(st.lists(TEXTS, max_size=2)),
            ),
        ),
        st.tuples(
            st.just(CommandType.CUSTOMER_MARK_VIP), fixed(customerId=customer, reason=maybe(TEXTS))
        ),
        st.tuples(
            st.just(CommandType.CUSTOMER_REFRESH_PROFILE),
            fixed(
                customerId=customer,
                source=TEXTS,
                metrics=maybe(
                    st.fixed_dictionaries(
                        {
                            "satisfactionScore": st.integers(0, 100),
                            "issueCount": st.integers(0, 5),
                            "averageResolutionMinutes": st.integers(0, 90),
                        }
                    ),
                    clearable=False,
                ),
            ),
        ),
        st.tuples(
            st.just(CommandType.CONTACT_UPDATE),
            fixed(
                contactId=st.sampled_from([ids["contact"], ids["contact2"]]),
                name=maybe(TEXTS, clearable=False),
                phone=maybe(PHONES),
                email=maybe(EMAILS),
                title=maybe(TEXTS),
                isPrimary=maybe(st.booleans(), clearable=False),
            ),
        ),
        st.tuples(
            st.just(CommandType.OPPORTUNITY_UPDATE),
            fixed(
                opportunityId=ids["opportunity"],
                name=maybe(TEXTS, clearable=False),
                amount=maybe(st.sampled_from([0, 10, 2500.5]), clearable=False),
                stage=maybe(st.sampled_from(["lead", "proposal", "won"]), clearable=False),
                expectedCloseDate=maybe(st.sampled_from(["2026-12-31", "2027-01-15"])),
            ),
        ),
        st.tuples(
            st.just(CommandType.FOLLOW_UP_UPDATE),
            fixed(
                followUpId=ids["follow_up"],
                content=maybe(TEXTS, clearable=False),
                method=maybe(st.sampled_from(["call", "visit"]), clearable=False),
                nextFollowUpAt=maybe(TIMES),
            ),
        ),
        st.tuples(
            st.just(CommandType.CUSTOMER_UPDATE_COMMITMENT),
            fixed(
                customerId=customer,
                commitmentId=ids["commitment"],
                progress=st.sampled_from([0, 40, 100]),
            ),
        ),
        st.tuples(
            st.just(CommandType.PAYMENT_CREATE),
            fixed(contractId=ids["contract"], amount=st.sampled_from([1, 2.5])),
        ),
        st.sampled_from(
            [
                (CommandType.CONTACT_DELETE, {"contactId": ids["contact2"]}),
                (CommandType.OPPORTUNITY_DELETE, {"opportunityId": ids["opportunity"]}),
                (CommandType.FOLLOW_UP_DELETE, {"followUpId": ids["follow_up"]}),
            ]
        ),
    )


async def run(db: Database, command_id: str, kind: CommandType, body: dict[str, Any]) -> Any:
    envelope = CommandEnvelope(
        command_id=command_id, type=kind, tenant_id="t1", actor_id="u1", payload=body
    )
    return await CommandProcessor(db).process(envelope)


async def setup(db: Database) -> dict[str, str]:
    """A customer with two contacts, an opportunity, a follow-up, a contract and an open
    commitment; the ids of each."""
    customer = (
        await run(
            db,
            "s-customer",
            CommandType.CUSTOMER_CREATE,
            {"name": "Acme", "phone": "13812345678", "email": "ops@acme.example", "tags": ["a"]},
        )
    ).entity_id
    await run(db, "s-other", CommandType.CUSTOMER_CREATE, {"name": "Other"})
    made = {"customer": customer}
    for slot, kind, body in (
        (
            "contact",
            CommandType.CONTACT_CREATE,
            {"name": "C1", "phone": "13700000000", "isPrimary": True},
        ),
        ("contact2", CommandType.CONTACT_CREATE, {"name": "C2", "email": "c2@acme.example"}),
        ("opportunity", CommandType.OPPORTUNITY_CREATE, {"name": "Deal", "amount": 100}),
        ("follow_up", CommandType.FOLLOW_UP_CREATE, {"content": "called", "method": "call"}),
        ("contract", CommandType.CONTRACT_CREATE, {"contractNo": "K-1", "amount": 1000}),
    ):
        made[slot] = (await run(db, f"s-{slot}", kind, {**body, "customerId": customer})).entity_id
    record = await run(
        db,
        "s-record",
        CommandType.CUSTOMER_ADD_SERVICE_RECORD,
        {
            "customerId": customer,
            "title": "Visit",
            "description": "d",
            "commitments": [{"title": "Fix"}],
        },
    )
    [made["commitment"]] = [c["id"] for c in record.data["commitments"]]
    return made


async def stored(db: Database) -> dict[str, Document]:
    """Every stored document, by id."""
    docs: dict[str, Document] = {}
    for name in COLLECTIONS:
        docs.update({doc["_id"]: doc for doc in await db[name].find({}).to_list()})
    return docs


async def check(db: Database, command_id: str, kind: CommandType, body: dict[str, Any]) -> set[str]:
    """Run one command and check its events; the types of those with a diff."""
    before = await stored(db)
    await run(db, command_id, kind, body)
    after = await stored(db)
    entry = await db[JOURNAL].find_one({"_id": journal_id("t1", command_id)})
    assert entry is not None
    checked = set()
    for record in each_record(entry) if entry.get("events") else []:
        clear = wire_event(entry, record, EventPii.CLEAR)
        masked = wire_event(entry, record, EventPii.MASKED)
        if clear["type"].rsplit(".", 1)[1] not in REPLACING:
            assert "changedfields" not in clear
            continue
        was = public(before[clear["subject"]])
        assert clear["data"] == public(after[clear["subject"]])
        assert previous_view(clear) == was, (kind, body)
        assert previous_view(masked) == masked_contacts(was)
        changed = clear["changedfields"].split(",")
        # only fields whose value did change (`updatedAt` too, unless in the same ms)
        assert all(was.get(name, ...) != clear["data"].get(name, ...) for name in changed)
        checked.add(clear["type"])
    return checked


@settings(
    max_examples=int(os.environ.get("CRM_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.data())
def test_previous_values_put_back_give_the_document_before(data: st.DataObject) -> None:
    async def scenario() -> None:
        db = await indexed_memory_db()
        ids = await setup(db)
        for number in range(data.draw(st.integers(1, 5), label="commands")):
            kind, body = data.draw(commands(ids))
            await check(db, f"cmd-{number}", kind, body)

    asyncio.run(scenario())


async def test_each_kind_of_replacing_event_carries_its_diff() -> None:
    """The property is not vacuous: one command of each kind, each event checked."""
    db = await indexed_memory_db()
    ids = await setup(db)
    customer = ids["customer"]
    seen: set[str] = set()
    for number, (kind, body) in enumerate(
        [
            (CommandType.CUSTOMER_UPDATE, {"customerId": customer, "phone": None, "remark": "r"}),
            (CommandType.CUSTOMER_MARK_VIP, {"customerId": customer}),
            (CommandType.CUSTOMER_REFRESH_PROFILE, {"customerId": customer, "source": "im"}),
            (CommandType.CONTACT_UPDATE, {"contactId": ids["contact2"], "isPrimary": True}),
            (CommandType.OPPORTUNITY_UPDATE, {"opportunityId": ids["opportunity"], "amount": 5}),
            (CommandType.FOLLOW_UP_UPDATE, {"followUpId": ids["follow_up"], "content": "again"}),
            (
                CommandType.CUSTOMER_UPDATE_COMMITMENT,
                {"customerId": customer, "commitmentId": ids["commitment"], "progress": 100},
            ),
            (CommandType.PAYMENT_CREATE, {"contractId": ids["contract"], "amount": 10}),
            (CommandType.OPPORTUNITY_DELETE, {"opportunityId": ids["opportunity"]}),
        ]
    ):
        seen |= await check(db, f"each-{number}", kind, body)
    assert seen == {
        "crm.customer.updated",
        "crm.customer.vip_marked",
        "crm.customer.profile_refreshed",
        "crm.contact.updated",  # both: the new primary and the one it demoted
        "crm.opportunity.updated",
        "crm.follow_up.updated",
        "crm.commitment.updated",
        "crm.contract.updated",
        "crm.opportunity.deleted",
    }
