"""Every integration event is applied, parked or dead-lettered with a reason — never
dropped silently — and a deleted customer's identities are released. Against the in-memory
store, without a broker: the consumer's outcome and its dead letters are what it returns
and publishes."""

import json
import uuid
from typing import Any

from handlers.command_consumer import Outcome
from handlers.dead_letters import DeadLetters, RawMessage
from handlers.integration_events import IntegrationEventConsumer
from handlers.parked_release import ParkedEventRelease
from handlers.pipeline import CommandProcessor
from schemas.envelope import CommandEnvelope, CommandResult, CommandStatus, CommandType
from schemas.ids import created_customer_id
from storage.customer_profile import BINDINGS, binding_key
from storage.customers import CUSTOMERS
from storage.database import Database
from storage.parked_events import PARKED_EVENTS
from tests.helpers import command_envelope, indexed_memory_db

TENANT = "t1"
WX = {"systemType": "im", "systemName": "wecom", "externalId": "wx-1"}
METRICS = {"satisfactionScore": 80, "issueCount": 1, "averageResolutionMinutes": 10}


class Worker:
    """The integration consumer and the command processor over one store, with the dead
    letters it publishes kept."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dead: list[tuple[bytes, dict[str, str]]] = []
        self.processor = CommandProcessor(db)
        self.events = IntegrationEventConsumer(
            db, self.processor, DeadLetters(self._dead_letter), retries=0, backoff_s=0.0
        )
        self.release = ParkedEventRelease(db, self.events)

    async def _dead_letter(self, value: bytes, key: bytes | None, headers: dict[str, str]) -> None:
        self.dead.append((value, headers))

    async def command(self, command_type: CommandType, **payload: Any) -> CommandResult:
        envelope = command_envelope(command_type, payload, tenant=TENANT)
        result = await self.processor.process(envelope)
        await self.release.release_unblocked_by(envelope, result)  # as the command consumer does
        return result

    async def customer(self, name: str) -> str:
        result = await self.command(CommandType.CUSTOMER_CREATE, name=name)
        assert result.entity_id is not None
        return result.entity_id

    async def send(self, event_type: str, data: dict[str, Any]) -> Outcome:
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "wecom",
            "type": event_type,
            "tenantid": TENANT,
            "data": data,
        }
        return await self.events.consume(RawMessage(json.dumps(event).encode(), b"k"))

    async def parked(self) -> list[dict[str, Any]]:
        return list(await self.db[PARKED_EVENTS].find({}).sort("_seq", 1).to_list())

    async def interactions(self, customer_id: str) -> int:
        return await self.db["interactions"].count_documents({"customerId": customer_id})


async def test_an_event_whose_command_is_rejected_is_dead_lettered_with_the_rejection() -> None:
    worker = Worker(await indexed_memory_db())
    owner, other = await worker.customer("Owner"), await worker.customer("Other")
    await worker.command(CommandType.CUSTOMER_BIND_EXTERNAL, customerId=owner, **WX)
    outcome = await worker.send("identity.linked", {**WX, "customerId": other})
    assert outcome is Outcome.DEAD_LETTERED
    [(value, headers)] = worker.dead
    assert json.loads(value)["data"]["customerId"] == other
    assert headers["x-dlq-reason"] == "rejected"
    assert headers["x-dlq-error"].startswith("IDENTITY_ALREADY_BOUND: ")


async def test_deleting_a_customer_releases_its_identities() -> None:
    worker = Worker(await indexed_memory_db())
    alice, bob = await worker.customer("Alice"), await worker.customer("Bob")
    await worker.command(CommandType.CUSTOMER_BIND_EXTERNAL, customerId=alice, **WX)
    deleted = await worker.command(CommandType.CUSTOMER_DELETE, customerId=alice)
    assert deleted.status is CommandStatus.SUCCEEDED
    assert await worker.db[BINDINGS].count_documents({}) == 0
    rebound = await worker.command(CommandType.CUSTOMER_BIND_EXTERNAL, customerId=bob, **WX)
    assert rebound.status is CommandStatus.SUCCEEDED  # not IDENTITY_ALREADY_BOUND


async def test_an_event_naming_a_deleted_customers_identity_is_parked_until_bound_again() -> None:
    worker = Worker(await indexed_memory_db())
    alice, bob = await worker.customer("Alice"), await worker.customer("Bob")
    await worker.command(CommandType.CUSTOMER_BIND_EXTERNAL, customerId=alice, **WX)
    await worker.command(CommandType.CUSTOMER_DELETE, customerId=alice)
    outcome = await worker.send("interaction.recorded", {"identity": WX, "interactionType": "chat"})
    assert outcome is Outcome.PROCESSED and worker.dead == []
    [parked] = await worker.parked()
    assert parked["reason"] == "unknown_identity"
    await worker.command(CommandType.CUSTOMER_BIND_EXTERNAL, customerId=bob, **WX)
    assert await worker.parked() == []
    assert await worker.interactions(bob) == 1 and await worker.interactions(alice) == 0


async def test_a_binding_an_older_release_left_to_a_deleted_customer_binds_nothing() -> None:
    worker = Worker(await indexed_memory_db())
    alice, bob = await worker.customer("Alice"), await worker.customer("Bob")
    await worker.command(CommandType.CUSTOMER_BIND_EXTERNAL, customerId=alice, **WX)
    # Deleted as releases before this one did: the binding stayed.
    await worker.db[CUSTOMERS].update_one({"_id": alice}, {"$set": {"_deleted": True}})
    await worker.send("profile.metrics", {"identity": WX, "metrics": METRICS})
    [parked] = await worker.parked()
    assert parked["reason"] == "unknown_identity"
    taken = await worker.command(CommandType.CUSTOMER_BIND_EXTERNAL, customerId=bob, **WX)
    assert taken.status is CommandStatus.SUCCEEDED
    [binding] = await worker.db[BINDINGS].find({}).to_list()
    assert binding["customerId"] == bob
    assert await worker.parked() == []
    bob_doc = await worker.db[CUSTOMERS].find_one({"_id": bob})
    assert bob_doc is not None and bob_doc["metrics"]["issueCount"] == 1


async def test_a_released_event_whose_command_is_rejected_is_dead_lettered() -> None:
    worker = Worker(await indexed_memory_db())
    bob = await worker.customer("Bob")
    # Parked for a customer that does not exist yet (Carol's, created below).
    carol_command = str(uuid.uuid4())
    carol = created_customer_id(TENANT, carol_command)
    await worker.send("identity.linked", {**WX, "customerId": carol})
    [parked] = await worker.parked()
    assert parked["reason"] == "unknown_customer"
    # Meanwhile bound to Bob by a worker whose release has not run yet.
    binding = {"tenantId": TENANT, "customerId": bob, **WX, "boundAt": "2026-01-01"}
    await worker.db[BINDINGS].insert_one({"_id": binding_key(TENANT, *WX.values()), **binding})
    envelope = CommandEnvelope(
        command_id=carol_command,
        type=CommandType.CUSTOMER_CREATE,
        tenant_id=TENANT,
        actor_id="u1",
        payload={"name": "Carol"},
    )
    result = await worker.processor.process(envelope)
    await worker.release.release_unblocked_by(envelope, result)  # bind to Carol: 409
    assert await worker.parked() == []
    [(value, headers)] = worker.dead
    assert json.loads(value)["data"]["customerId"] == carol
    assert headers["x-dlq-reason"] == "rejected"
    assert headers["x-dlq-error"].startswith("IDENTITY_ALREADY_BOUND: ")
