"""The pipeline's step after a command: release the parked integration events it unblocks.

An integration event whose customer or identity is not known yet is parked
(`storage/parked_events.py`). The commands that can make it known — a binding, a customer
created, updated (phone or email) or imported — are followed by this step, which re-applies
the events waiting for what they made known, through the integration consumer.
"""

import logging

from handlers.command_consumer import is_transient
from handlers.integration_events import IntegrationEventConsumer, identity_key
from schemas.envelope import CommandEnvelope, CommandResult, CommandStatus, CommandType
from storage.database import Database
from storage.parked_events import ParkedEventRepository, contact_keys, contact_keys_of

log = logging.getLogger("crm.integration")

RELEASING_COMMANDS = frozenset(
    {
        CommandType.CUSTOMER_BIND_EXTERNAL,
        CommandType.CUSTOMER_CREATE,
        CommandType.CUSTOMER_UPDATE,
        CommandType.CUSTOMER_IMPORT,
    }
)


class ParkedEventRelease:
    def __init__(self, db: Database, integration: IntegrationEventConsumer) -> None:
        self._db = db
        self._parked = ParkedEventRepository(db)
        self._integration = integration

    async def release_unblocked_by(self, envelope: CommandEnvelope, result: CommandResult) -> None:
        """Release what a succeeded binding or customer write unblocks; other commands pass.

        A failure is logged and leaves the events parked (the command's own result stands),
        except a transient store error, which propagates: the command is redelivered and
        its release retried.
        """
        if result.status is not CommandStatus.SUCCEEDED or envelope.type not in RELEASING_COMMANDS:
            return
        try:
            await self._release(envelope, result)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("releasing parked events after %s failed", envelope.command_id)

    async def _release(self, envelope: CommandEnvelope, result: CommandResult) -> None:
        tenant_id = envelope.tenant_id
        if not await self._parked.any_in(tenant_id):
            return
        integration = self._integration
        if envelope.type is CommandType.CUSTOMER_BIND_EXTERNAL and isinstance(result.data, dict):
            await integration.release_identities(tenant_id, [identity_key(tenant_id, result.data)])
        elif envelope.type in (CommandType.CUSTOMER_CREATE, CommandType.CUSTOMER_UPDATE):
            data = result.data if isinstance(result.data, dict) else {}
            # An updated customer's id existed before: no event can be waiting for it.
            new_id = result.entity_id if envelope.type is CommandType.CUSTOMER_CREATE else None
            await integration.release_for_customers(
                tenant_id,
                [new_id] if new_id else [],
                contact_keys(data.get("phone"), data.get("email")),
            )
        elif envelope.type is CommandType.CUSTOMER_IMPORT and isinstance(result.data, dict):
            created = [
                item["id"]
                for item in result.data.get("items", [])
                if item.get("status") == "created" and item.get("id")
            ]
            keys = await contact_keys_of(self._db, tenant_id, created)
            await integration.release_for_customers(tenant_id, created, keys)
