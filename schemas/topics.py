"""Kafka topic names (configurable; these are the contract's defaults)."""

from pydantic import BaseModel, ConfigDict


class Topics(BaseModel):
    model_config = ConfigDict(frozen=True)

    commands: str = "crm.commands"
    integration_events: str = "crm.integration.events"
    customer_events: str = "crm.customer-events"
    commands_dlq: str = "crm.commands.dlq"
