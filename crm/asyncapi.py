"""The AsyncAPI 3.0 document of the four topics, generated from the pydantic models.

Our subscribers take raw records (they must dead-letter what does not decode), so
FastStream cannot infer payload schemas from their signatures; the document is built here
from the same models the worker validates with, and the registry's command types.
"""

from typing import Any

from pydantic import BaseModel

from handlers.registry import USE_CASES
from schemas.envelope import CommandEnvelope
from schemas.events import ChangeEvent
from schemas.integration_events import DATA_MODELS, CloudEvent
from schemas.topics import Topics

REF_TEMPLATE = "#/components/schemas/{model}"


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    """Register `model` (and the models it uses) under components; return its $ref."""
    found = model.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE)
    for name, definition in found.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas[model.__name__] = found
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _command_messages(schemas: dict[str, Any]) -> dict[str, Any]:
    envelope_ref = _schema(CommandEnvelope, schemas)
    messages: dict[str, Any] = {}
    for command_type, use_case in sorted(USE_CASES.items()):
        payload_ref = _schema(use_case.payload_model, schemas)
        name = "command_" + command_type.value.replace(".", "_")
        messages[name] = {
            "name": command_type.value,
            "title": f"Command {command_type.value}",
            "contentType": "application/json",
            "summary": (
                f"Envelope with type `{command_type.value}`, "
                f"payload {use_case.payload_model.__name__}"
            ),
            "payload": {
                "allOf": [
                    envelope_ref,
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": command_type.value},
                            "payload": payload_ref,
                        },
                    },
                ]
            },
            "examples": [
                {
                    "name": command_type.value,
                    "headers": {"key": "t1:0b8f7d5e-5c8c-4a8e-9b43-6e7c2f1d3a10"},
                    "payload": {
                        "commandId": "9b1d2c3e-0000-4000-8000-000000000001",
                        "type": command_type.value,
                        "tenantId": "t1",
                        "actorId": "u1",
                        "issuedAt": "2026-11-21T08:00:00Z",
                        "payload": {},
                    },
                }
            ],
        }
    return messages


def _integration_messages(schemas: dict[str, Any]) -> dict[str, Any]:
    cloud_event_ref = _schema(CloudEvent, schemas)
    messages: dict[str, Any] = {}
    for event_type, data_model in DATA_MODELS.items():
        name = "integration_" + event_type.value.replace(".", "_")
        messages[name] = {
            "name": event_type.value,
            "title": f"Integration event {event_type.value} (CloudEvents 1.0)",
            "contentType": "application/cloudevents+json",
            "summary": f"data is {data_model.__name__}; unresolvable customers are parked",
            "payload": {
                "allOf": [
                    cloud_event_ref,
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event_type.value},
                            "data": _schema(data_model, schemas),
                        },
                    },
                ]
            },
        }
    return messages


CHANGE_EVENT_EXAMPLE = {
    "specversion": "1.0",
    "id": "5f0e8a1c-8c1d-5b7e-9f11-1d2c3b4a5e6f",
    "source": "crm-worker",
    "type": "crm.customer.updated",
    "subject": "0b8f7d5e-5c8c-4a8e-9b43-6e7c2f1d3a10",
    "time": "2026-11-21T08:00:00.123Z",
    "datacontenttype": "application/json",
    "tenantid": "t1",
    "sequence": 4,
    "causationid": "9b1d2c3e-0000-4000-8000-000000000001",
    "changeorigin": "http",
    "changedfields": "name,phone,updatedAt",
    "previousvalues": (
        '{"name":"Acme","phone":"138****5678","updatedAt":"2026-11-20T10:00:00.000Z"}'
    ),
    "data": {
        "id": "0b8f7d5e-5c8c-4a8e-9b43-6e7c2f1d3a10",
        "name": "Acme Ltd",
        "phone": "139****1111",
        "updatedAt": "2026-11-21T08:00:00.123Z",
    },
}
CHANGE_EVENT_DESCRIPTION = (
    "Type crm.<entity>.<past-tense>; key tenantId:customerId; data is the entity's public "
    "view after the change. Extensions: tenantid; sequence (per customer: 1 for its first "
    "event, then exactly one more per event, no gaps; a re-published event keeps its id and "
    "sequence); causationid (the command id); changeorigin (http | kafka | "
    "integration:<source>); on events about a document that replaced a stored one "
    "(*.updated, vip_marked, profile_refreshed, *.deleted) changedfields (comma-separated "
    "top-level fields of data that changed) and previousvalues (a JSON object as a string: "
    "the previous value of each changed field that existed before). Phones and emails are "
    "masked unless CRM_EVENT_PII=clear."
)

DEAD_LETTER_HEADERS = {
    "type": "object",
    "properties": {
        "x-dlq-reason": {
            "type": "string",
            "enum": [
                "undecodable",
                "unknown_type",
                "invalid_envelope",
                "invalid_payload",
                "not_cloudevent",
                "invalid_data",
                "processing_failed",
                "rejected",
            ],
        },
        "x-dlq-error": {"type": "string", "maxLength": 1000},
        "x-dlq-original-topic": {"type": "string"},
        "x-dlq-original-partition": {"type": "string"},
        "x-dlq-original-offset": {"type": "string"},
        "x-dlq-failed-at": {"type": "string", "format": "date-time"},
    },
}


def build_asyncapi(topics: Topics) -> dict[str, Any]:
    """The AsyncAPI 3.0 document for these topic names."""
    schemas: dict[str, Any] = {}
    command_messages = _command_messages(schemas)
    change_event = {
        "name": "ChangeEvent",
        "title": "Customer change event (CloudEvents 1.0)",
        "contentType": "application/cloudevents+json",
        "summary": "type crm.<entity>.<past-tense>; key tenantId:customerId; sequence per customer",
        "description": CHANGE_EVENT_DESCRIPTION,
        "payload": _schema(ChangeEvent, schemas),
        "examples": [{"name": "updated", "payload": CHANGE_EVENT_EXAMPLE}],
    }
    dead_letter = {
        "name": "DeadLetter",
        "title": "A command that could not be processed",
        "summary": "The original key and bytes; why it failed is in the headers.",
        "headers": DEAD_LETTER_HEADERS,
        "payload": {"description": "the original message bytes, unchanged"},
    }
    integration_messages = _integration_messages(schemas)
    channels = {
        "commands": {
            "address": topics.commands,
            "description": "CRM commands from the facade and any producer; key tenant:customer.",
            "messages": {
                name: {"$ref": f"#/components/messages/{name}"} for name in command_messages
            },
        },
        "integrationEvents": {
            "address": topics.integration_events,
            "description": "Inbound CloudEvents from IM/CRM systems.",
            "messages": {
                name: {"$ref": f"#/components/messages/{name}"} for name in integration_messages
            },
        },
        "customerEvents": {
            "address": topics.customer_events,
            "description": "Outbound change events, relayed in sequence order.",
            "messages": {"ChangeEvent": {"$ref": "#/components/messages/ChangeEvent"}},
        },
        "commandsDlq": {
            "address": topics.commands_dlq,
            "description": "Poison messages; they never block their partition.",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        },
    }
    operations = {
        "consumeCommands": {"action": "receive", "channel": {"$ref": "#/channels/commands"}},
        "consumeIntegrationEvents": {
            "action": "receive",
            "channel": {"$ref": "#/channels/integrationEvents"},
        },
        "publishChangeEvents": {"action": "send", "channel": {"$ref": "#/channels/customerEvents"}},
        "publishDeadLetters": {"action": "send", "channel": {"$ref": "#/channels/commandsDlq"}},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CRM worker service",
            "version": "1.0.0",
            "description": "Kafka contract of the CRM backend (DESIGN §4).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                **command_messages,
                **integration_messages,
                "ChangeEvent": change_event,
                "DeadLetter": dead_letter,
            },
            "schemas": dict(sorted(schemas.items())),
        },
    }
