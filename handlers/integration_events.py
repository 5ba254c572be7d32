"""Inbound integration events (`crm.integration.events`): resolve, translate, apply or park.

Each event becomes the matching command and runs through the same `CommandProcessor` as
everything else:

    identity.linked      → customer.bind_external
    identity.unlinked    → customer.unbind_external
    profile.metrics      → customer.refresh_profile (its `source` = the event's source)
    interaction.recorded → customer.add_interaction

The command id is derived from the event's `(source, id)`, so a redelivered event finds
its journal entry and has no second effect; the actor is the event's source. No event is
dropped silently: each is applied, parked, or dead-lettered with a reason. A domain
rejection (an identity bound to another live customer, a customer deleted meanwhile) is
stored like any command's result, and the event is dead-lettered (`rejected`, with the
error code and message), also when a release of a parked event meets it.

Resolving the customer:
- `customerId` — a live customer of the tenant, else `unknown_customer`;
- `identity` (and the identity of `identity.unlinked`) — the live customer its binding
  names, else `unknown_identity` (a deleted customer's identities are released: parked);
- `identity.linked` with `match` — the one live customer with that phone (exact) or email
  (case-insensitive); none is `no_match`, two or more is `ambiguous_match` (never guessed).
  An `identity.linked` event that does not resolve by its own `customerId`/`match` but
  whose identity is already bound resolves to that binding's customer (the bind command
  then answers idempotently).

An event that does not resolve is parked (`storage.parked_events`), never dropped, and
listed at `GET /api/v1/crm/integration-events/parked`. What releases it:
1. a binding of the identity it waits for, however it was made (HTTP bind, a
   `customer.bind_external` command, an `identity.linked` event): every event parked for
   that identity is applied, oldest first, and leaves the parked list;
2. a customer created (`customer.create`/`customer.import`) with the id an event named,
   or created/updated with the phone or email an `identity.linked` event matches on: those
   events are tried again and applied if they now resolve (an ambiguity is not settled by
   this: bind the identity explicitly, which is rule 1).
A release that still does not resolve leaves the event parked (its reason refreshed).

Parking re-checks the resolution right after the insert, and a release reads the parked
events right after the binding is applied, so an event parked while its identity is being
bound is applied by one side or the other (both is harmless: the journal dedupes).
Poison (too large, not JSON, not a CloudEvent, unknown type, invalid data) is dead-lettered with the
original key and value; a transient store error leaves the event for redelivery.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from handlers.command_consumer import (
    MAX_MESSAGE_BYTES,
    Outcome,
    Poison,
    is_transient,
    settle,
    with_retries,
)
from handlers.dead_letters import DeadLetters, RawMessage, validation_summary
from handlers.keyed_lock import KeyedLock
from handlers.pipeline import CommandProcessor
from schemas.base import CamelModel, iso, iso_now
from schemas.envelope import CommandEnvelope, CommandResult, CommandStatus, CommandType
from schemas.events import integration_origin
from schemas.ids import event_command_id, partition_key
from schemas.integration_events import (
    DATA_MODELS,
    CloudEvent,
    CustomerOrIdentity,
    IdentityLinkedData,
    IdentityUnlinkedData,
    IntegrationEventType,
    InteractionRecordedData,
    ParkReason,
    ProfileMetricsData,
)
from schemas.topics import Topics
from storage.customer_profile import BindingRepository, binding_key
from storage.customers import CustomerRepository
from storage.database import Database, Document
from storage.journal import CommandJournal
from storage.parked_events import (
    ParkedEventRepository,
    contact_keys,
    customers_matching,
)

log = logging.getLogger("crm.integration")

COMMAND_OF_EVENT = {
    IntegrationEventType.IDENTITY_LINKED: CommandType.CUSTOMER_BIND_EXTERNAL,
    IntegrationEventType.IDENTITY_UNLINKED: CommandType.CUSTOMER_UNBIND_EXTERNAL,
    IntegrationEventType.PROFILE_METRICS: CommandType.CUSTOMER_REFRESH_PROFILE,
    IntegrationEventType.INTERACTION_RECORDED: CommandType.CUSTOMER_ADD_INTERACTION,
}
MAX_REFRESH_SOURCE = 64  # the refresh endpoint's `source` bound
RELEASE_BATCH = 100
CE_HEADER_PREFIX = "ce_"
# The dead-letter reason of an event whose command was rejected (its error in x-dlq-error).
REJECTED = "rejected"


@dataclass(frozen=True)
class IntegrationEvent:
    """A decoded, validated event: its CloudEvent attributes and its typed `data`."""

    cloud: CloudEvent
    type: IntegrationEventType
    data: CamelModel
    raw: dict[str, Any]  # the structured-mode JSON object, as stored when parked

    @property
    def tenant_id(self) -> str:
        return self.cloud.tenantid

    @property
    def command_id(self) -> str:
        return event_command_id(self.cloud.source, self.cloud.id)

    @property
    def identity(self) -> dict[str, str] | None:
        """The external identity the event is about, if any (camelCase)."""
        data = self.data
        if isinstance(data, IdentityLinkedData | IdentityUnlinkedData):
            ref: CamelModel = data
        elif isinstance(data, CustomerOrIdentity) and data.identity is not None:
            ref = data.identity
        else:
            return None
        dumped = ref.model_dump(mode="json", by_alias=True)
        return {k: dumped[k] for k in ("systemType", "systemName", "externalId")}

    @property
    def identity_key(self) -> str | None:
        identity = self.identity
        if identity is None:
            return None
        return identity_key(self.tenant_id, identity)


def _structured(message: RawMessage) -> Any:
    """The event as one JSON object: structured mode, or binary mode (`ce_*` headers)."""
    headers = {k.lower(): v for k, v in message.headers.items()}
    try:
        body = json.loads(message.value) if message.value else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Poison("undecodable", f"not JSON: {exc}") from exc
    if f"{CE_HEADER_PREFIX}specversion" not in headers:
        return body
    attributes: dict[str, Any] = {
        k.removeprefix(CE_HEADER_PREFIX): v
        for k, v in headers.items()
        if k.startswith(CE_HEADER_PREFIX)
    }
    if "content-type" in headers:
        attributes["datacontenttype"] = headers["content-type"]
    return {**attributes, "data": body}


def decode_event(message: RawMessage) -> IntegrationEvent:
    """Decode and validate a record; anything unusable raises `Poison`."""
    return parse_event(_structured(message))


def parse_event(raw: Any) -> IntegrationEvent:
    if not isinstance(raw, dict):
        raise Poison("not_cloudevent", f"a CloudEvent is a JSON object, got {type(raw).__name__}")
    try:
        cloud = CloudEvent.model_validate(raw)
    except ValidationError as exc:
        raise Poison("not_cloudevent", validation_summary(exc)) from exc
    try:
        event_type = IntegrationEventType(cloud.type)
    except ValueError:
        raise Poison("unknown_type", f"unknown integration event type {cloud.type!r}") from None
    try:
        data = DATA_MODELS[event_type].model_validate(cloud.data)
    except ValidationError as exc:
        raise Poison(
            "invalid_data", f"data of {event_type.value}: {validation_summary(exc)}"
        ) from exc
    return IntegrationEvent(cloud, event_type, data, raw)


def to_command(event: IntegrationEvent, customer_id: str) -> CommandEnvelope:
    """The command an event stands for, once its customer is known."""
    data = event.data
    payload: dict[str, Any] = {"customerId": customer_id}
    if isinstance(data, IdentityLinkedData):
        payload.update(event.identity or {})
        if data.display_name is not None:
            payload["displayName"] = data.display_name
    elif isinstance(data, IdentityUnlinkedData):
        payload.update(event.identity or {})
    elif isinstance(data, ProfileMetricsData):
        payload["source"] = event.cloud.source[:MAX_REFRESH_SOURCE]
        payload["metrics"] = data.metrics.model_dump(mode="json", by_alias=True)
    elif isinstance(data, InteractionRecordedData):
        payload.update(
            data.model_dump(
                mode="json",
                by_alias=True,
                exclude_none=True,
                include={"interaction_type", "occurred_at", "notes", "channel"},
            )
        )
        if data.occurred_at is None and event.cloud.time is not None:
            payload["occurredAt"] = iso(event.cloud.time)
    envelope_fields: dict[str, Any] = {}
    if event.cloud.time is not None:
        envelope_fields["issued_at"] = event.cloud.time
    return CommandEnvelope(
        command_id=event.command_id,
        type=COMMAND_OF_EVENT[event.type],
        tenant_id=event.tenant_id,
        actor_id=event.cloud.source,
        payload=payload,
        **envelope_fields,
    )


@dataclass(frozen=True)
class Resolved:
    customer_id: str


@dataclass(frozen=True)
class Unresolved:
    reason: ParkReason
    customer_id: str | None = None  # the id the event named (unknown_customer)
    match_keys: list[str] = field(default_factory=list)


class IntegrationEventConsumer:
    """Consumes raw integration events; also the worker's hook after each command."""

    def __init__(
        self,
        db: Database,
        processor: CommandProcessor,
        dead_letters: DeadLetters,
        *,
        locks: KeyedLock | None = None,
        retries: int = 5,
        backoff_s: float = 0.05,
        on_processed: Callable[[], None] | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        topic: str = Topics().integration_events,
    ) -> None:
        self._db = db
        self._topic = topic  # named in the dead letter of a released event
        self._processor = processor
        self._dead_letters = dead_letters
        self._locks = locks or KeyedLock()
        self._retries = retries
        self._backoff_s = backoff_s
        self._on_processed = on_processed
        self._max_message_bytes = max_message_bytes
        self._journal = CommandJournal(db)
        self._customers = CustomerRepository(db)
        self._bindings = BindingRepository(db)
        self._parked = ParkedEventRepository(db)

    async def consume(self, message: RawMessage) -> Outcome:
        return await settle(
            message,
            lambda: self._apply_raw(message),
            kind="integration event",
            max_message_bytes=self._max_message_bytes,
            dead_letters=self._dead_letters,
            on_processed=self._on_processed,
        )

    async def _apply_raw(self, message: RawMessage) -> None:
        event = decode_event(message)
        result = await with_retries(
            lambda: self.handle(event),
            retries=self._retries,
            backoff_s=self._backoff_s,
            what=f"integration event {event.cloud.source}/{event.cloud.id}",
        )
        if result is not None and result.status is CommandStatus.REJECTED:
            raise Poison(REJECTED, _rejection(result))

    async def handle(self, event: IntegrationEvent) -> CommandResult | None:
        """Apply the event, or park it; None when parked."""
        resolution = await self._resolve(event)
        result: CommandResult | None
        if isinstance(resolution, Resolved):
            result = await self._apply(event, resolution.customer_id)
            # parked by an earlier delivery
            await self._parked.remove_event(event.tenant_id, event.command_id)
        else:
            result = await self._park_unless_done(event, resolution)
        if result is not None:
            await self._after_event(event, result)
        return result

    async def release_identities(self, tenant_id: str, identity_keys: list[str]) -> int:
        """Apply the events parked for these identities, oldest first; how many were."""
        pending, done, released = list(identity_keys), set(), 0
        while pending:
            key = pending.pop(0)
            if key in done:
                continue
            done.add(key)
            after_seq = 0
            while docs := await self._parked.waiting_for_identity(
                tenant_id, key, after_seq=after_seq, limit=RELEASE_BATCH
            ):
                for doc in docs:
                    after_seq = doc["_seq"]
                    released += await self._retry_parked(doc, pending)
        return released

    async def release_for_customers(
        self, tenant_id: str, customer_ids: list[str], match_keys: list[str]
    ) -> int:
        """Try again the events that named these customers or match on these keys."""
        if not customer_ids and not match_keys:
            return 0
        after_seq, released, bound = 0, 0, list[str]()
        while docs := await self._parked.waiting_for_customers(
            tenant_id,
            customer_ids=customer_ids,
            match_keys=match_keys,
            after_seq=after_seq,
            limit=RELEASE_BATCH,
        ):
            for doc in docs:
                after_seq = doc["_seq"]
                released += await self._retry_parked(doc, bound)
        if bound:
            released += await self.release_identities(tenant_id, bound)
        return released

    async def _retry_parked(self, doc: Document, newly_bound: list[str]) -> int:
        """Apply one parked event if it resolves now (1), else leave it parked (0)."""
        try:
            event = parse_event(json.loads(doc["_raw"]))
            resolution = await self._resolve(event)
            if isinstance(resolution, Unresolved):
                await self._parked.note_attempt(doc["_id"], iso_now(), reason=resolution.reason)
                return 0
            result = await self._apply(event, resolution.customer_id)
            if result.status is CommandStatus.REJECTED:
                await self._dead_letter_parked(doc, result)
            await self._parked.remove(doc["_id"])
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("parked integration event %s could not be released", doc["_id"])
            await self._parked.note_attempt(doc["_id"], iso_now(), error=f"{exc}")
            return 0
        log.info("released parked integration event %s (%s)", doc["_id"], result.status.value)
        if _bound_identity(event, result) and event.identity_key is not None:
            newly_bound.append(event.identity_key)
        return 1

    async def _dead_letter_parked(self, doc: Document, result: CommandResult) -> None:
        """A released event whose command was rejected leaves the parked list for the
        dead-letter topic, with the rejection (it was consumed long ago: its partition and
        offset are not known, -1)."""
        error = _rejection(result)
        log.warning("dead-lettering released integration event %s: %s", doc["_id"], error)
        message = RawMessage(
            value=str(doc["_raw"]).encode(), topic=self._topic, partition=-1, offset=-1
        )
        await self._dead_letters.send(message, REJECTED, error)

    async def _after_event(self, event: IntegrationEvent, result: CommandResult) -> None:
        if _bound_identity(event, result) and event.identity_key is not None:
            await self.release_identities(event.tenant_id, [event.identity_key])

    async def _resolve(self, event: IntegrationEvent) -> Resolved | Unresolved:
        data = event.data
        tenant_id = event.tenant_id
        if isinstance(data, IdentityLinkedData):
            if data.customer_id is not None:
                if await self._customers.get(tenant_id, data.customer_id) is not None:
                    return Resolved(data.customer_id)
                unresolved = Unresolved(ParkReason.UNKNOWN_CUSTOMER, customer_id=data.customer_id)
            else:
                assert data.match is not None
                found = await customers_matching(
                    self._db, tenant_id, phone=data.match.phone, email=data.match.email
                )
                if len(found) == 1:
                    return Resolved(found[0])
                unresolved = Unresolved(
                    ParkReason.AMBIGUOUS_MATCH if found else ParkReason.NO_MATCH,
                    match_keys=contact_keys(data.match.phone, data.match.email),
                )
            bound = await self._bound_customer(event)
            return Resolved(bound) if bound is not None else unresolved
        if isinstance(data, CustomerOrIdentity) and data.customer_id is not None:
            if await self._customers.get(tenant_id, data.customer_id) is not None:
                return Resolved(data.customer_id)
            return Unresolved(ParkReason.UNKNOWN_CUSTOMER, customer_id=data.customer_id)
        bound = await self._bound_customer(event)
        return Resolved(bound) if bound is not None else Unresolved(ParkReason.UNKNOWN_IDENTITY)

    async def _bound_customer(self, event: IntegrationEvent) -> str | None:
        """The live customer the event's identity is bound to. A binding of a deleted
        customer (left by a delete before deletes released identities) binds nothing."""
        identity = event.identity
        if identity is None:
            return None
        binding = await self._bindings.get(
            event.tenant_id,
            identity["systemType"],
            identity["systemName"],
            identity["externalId"],
        )
        if binding is None:
            return None
        customer_id = str(binding["customerId"])
        alive = await self._customers.get(event.tenant_id, customer_id) is not None
        return customer_id if alive else None

    async def _apply(self, event: IntegrationEvent, customer_id: str) -> CommandResult:
        """Run the event's command under its customer's lock (as a keyed command would)."""
        async with self._locks.hold(partition_key(event.tenant_id, customer_id)):
            origin = integration_origin(event.cloud.source)
            return await self._processor.process(to_command(event, customer_id), origin)

    async def _park_unless_done(
        self, event: IntegrationEvent, resolution: Unresolved
    ) -> CommandResult | None:
        entry = await self._journal.find(event.tenant_id, event.command_id)
        if entry is not None:
            # Applied by an earlier delivery (its customer may not resolve any more): the
            # stored result stands; finish applying it if that delivery died midway.
            envelope = CommandEnvelope(
                command_id=event.command_id,
                type=CommandType(entry["type"]),
                tenant_id=event.tenant_id,
                actor_id=event.cloud.source,
            )
            return await self._processor.process(envelope, integration_origin(event.cloud.source))
        if await self._parked.park(self._parked_doc(event, resolution)):
            log.info(
                "parked integration event %s/%s: %s",
                event.cloud.source,
                event.cloud.id,
                resolution.reason.value,
            )
        again = await self._resolve(event)  # bound while we were parking it?
        if isinstance(again, Unresolved):
            return None
        result = await self._apply(event, again.customer_id)
        await self._parked.remove_event(event.tenant_id, event.command_id)
        return result

    @staticmethod
    def _parked_doc(event: IntegrationEvent, resolution: Unresolved) -> Document:
        return {
            "tenantId": event.tenant_id,
            "commandId": event.command_id,
            "eventId": event.cloud.id,
            "source": event.cloud.source,
            "type": event.type.value,
            "time": iso(event.cloud.time) if event.cloud.time is not None else None,
            "reason": resolution.reason.value,
            "identity": event.identity,
            "customerId": resolution.customer_id,
            "parkedAt": iso_now(),
            "_identityKey": event.identity_key,
            "_matchKeys": resolution.match_keys,
            "_raw": json.dumps(event.raw, separators=(",", ":"), default=str),
        }


def identity_key(tenant_id: str, identity: dict[str, Any]) -> str:
    """The binding key of an identity given in camelCase."""
    return binding_key(
        tenant_id, identity["systemType"], identity["systemName"], identity["externalId"]
    )


def _rejection(result: CommandResult) -> str:
    error = result.error
    return f"{error.code}: {error.message}" if error is not None else "rejected"


def _bound_identity(event: IntegrationEvent, result: CommandResult) -> bool:
    return event.type is IntegrationEventType.IDENTITY_LINKED and (
        result.status is CommandStatus.SUCCEEDED
    )
