"""What a use case decides: a result, the changes to apply and the events to announce."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from schemas.base import CamelModel, iso_now
from schemas.envelope import CommandEnvelope, CommandStatus
from schemas.errors import ErrorCode, ErrorKind
from schemas.ids import derived_id, derived_ids
from storage import changes
from storage.changes import Change, ConflictError
from storage.database import Document
from storage.documents import public

P = TypeVar("P", bound=CamelModel)


@dataclass
class CommandContext(Generic[P]):
    """The command being handled, its validated payload and deterministic helpers."""

    envelope: CommandEnvelope
    payload: P
    now: str = field(default_factory=iso_now)

    @property
    def tenant_id(self) -> str:
        return self.envelope.tenant_id

    @property
    def actor_id(self) -> str:
        return self.envelope.actor_id

    @property
    def command_id(self) -> str:
        return self.envelope.command_id

    def new_id(self, slot: str = "entity") -> str:
        """The id of an entity this command creates (stable across redeliveries)."""
        return derived_id(self.tenant_id, self.command_id, slot)

    def new_ids(self) -> Callable[[str], str]:
        """`new_id` for many slots (an import's customers): the common part hashed once."""
        return derived_ids(self.tenant_id, self.command_id)


@dataclass
class EventDraft:
    """A change event before the pipeline gives it an id, a time and a sequence.

    Its data is either given, or `document`'s public view: then, when the decision writes
    that very document, the journal names it instead of keeping a second copy. `before`:
    the stored document this one replaces (an update): the event then names the fields
    that changed and their previous values (`changedfields`, `previousvalues`)."""

    entity: str  # customer, contact, opportunity, ...
    action: str  # past tense: created, updated, deleted, vip_marked, ...
    subject: str  # the entity id
    customer_id: str  # orders the event among the customer's events
    data: dict[str, Any] | None = None
    document: Document | None = None
    before: Document | None = None

    @classmethod
    def of_document(
        cls, entity: str, action: str, doc: Document, customer_id: str | None = None
    ) -> "EventDraft":
        """An event about `doc` whose data is its public view (customer: itself)."""
        owner = doc["_id"] if customer_id is None else customer_id
        return cls(entity, action, doc["_id"], owner, document=doc)

    def changing(self, before: Document) -> "EventDraft":
        """This event, about a document that replaces `before` (as stored until now)."""
        self.before = before
        return self

    def view(self) -> dict[str, Any]:
        """The event's data."""
        if self.data is not None:
            return self.data
        assert self.document is not None, "an event draft needs data or a document"
        return public(self.document)


@dataclass
class EventBatch:
    """One event per document of an `insert_many` change, each about the customer that
    document is, which the same decision creates: an import's `created` events. One draft,
    and one outbox record (`handlers.outbox`), instead of one per customer."""

    entity: str
    action: str
    documents: list[Document]  # the very list the change holds (`changes.insert_many`)


@dataclass
class Decision:
    """A use case's verdict; a rejection has no changes and no events."""

    status: CommandStatus
    data: Any = None
    entity_id: str | None = None
    error: dict[str, str] | None = None
    changes: list[Change] = field(default_factory=list)
    events: list[EventDraft | EventBatch] = field(default_factory=list)
    decided_at: str | None = None  # the context's `now`, set by the pipeline
    data_is_json: bool = False  # `data` holds JSON values only: stored without a walk

    @classmethod
    def succeeded(
        cls,
        data: Any,
        *,
        entity_id: str | None = None,
        changes: list[Change] | None = None,
        events: list[EventDraft | EventBatch] | None = None,
        data_is_json: bool = False,
    ) -> "Decision":
        return cls(
            CommandStatus.SUCCEEDED,
            data=data,
            entity_id=entity_id,
            changes=changes or [],
            events=events or [],
            data_is_json=data_is_json,
        )

    @classmethod
    def rejected(cls, code: ErrorCode, kind: ErrorKind, message: str) -> "Decision":
        return cls(CommandStatus.REJECTED, error=rejection(code, kind, message))


def rejection(code: ErrorCode, kind: ErrorKind, message: str) -> dict[str, str]:
    """The stored form of a domain error (also a change's `onConflict`)."""
    return {"code": code.value, "kind": kind.value, "message": message}


def not_found(code: ErrorCode, what: str, entity_id: str) -> Decision:
    return Decision.rejected(code, ErrorKind.NOT_FOUND, f"{what} {entity_id} not found")


def replaced(
    current: Document,
    updated: Document,
    collection: str,
    event: Callable[[str, Document], EventDraft],
    *,
    on_conflict: ConflictError | None = None,
    also: tuple[list[Change], list[EventDraft]] = ([], []),
) -> Decision:
    """An update: `updated` replaces `current` (answered as its public view); the `updated`
    event names the fields that changed and their old values, the same for every entity.
    `also`: further changes and events the update brings (a contact made primary demotes
    the customer's other primary contact)."""
    also_changes, also_events = also
    return Decision.succeeded(
        public(updated),
        entity_id=current["_id"],
        changes=[changes.put(collection, updated, on_conflict=on_conflict), *also_changes],
        events=[event("updated", updated).changing(current), *also_events],
    )


def soft_deleted(
    ctx: CommandContext[Any],
    current: Document,
    collection: str,
    event: Callable[[str, Document], EventDraft],
) -> Decision:
    """Delete by marking: reads answer 404 afterwards; the `deleted` event carries the
    entity's last state (with `deletedAt`), the same for every entity."""
    deleted = {**current, "_deleted": True, "deletedAt": ctx.now, "updatedAt": ctx.now}
    return Decision.succeeded(
        {"id": current["_id"], "deleted": True},
        entity_id=current["_id"],
        changes=[changes.put(collection, deleted)],
        events=[event("deleted", deleted).changing(current)],
    )
