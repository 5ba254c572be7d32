"""The AsyncAPI 3.0 document of the four topics, generated from the pydantic models.

Our subscribers take raw records (they must dead-letter what does not decode), so
FastStream cannot infer payload schemas from their signatures; the document is built here
from the same models the worker validates with, and the registry's command types.
"""

from typing import Any

from pydantic import BaseModel

from handlers.registry import USE_CASES
from schemas.command_origin import ORIGIN_HEADER, PROOF_HEADER
from schemas.envelope import CommandEnvelope
from schemas.event_data import EVENT_TYPES, EventType
from schemas.events import ChangeEvent
from schemas.integration_events import DATA_MODELS, CloudEvent
from schemas.topics import Topics

REF_TEMPLATE = "#/components/schemas/{model}"
COMPONENT_PREFIX = "#/components/schemas/"


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    """Register `model` (and the models it uses) under components; return its $ref."""
    found = model.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE)
    for name, definition in found.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas[model.__name__] = found
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def closed(schema: Any) -> Any:
    """`schema` with every object that lists its properties closed to others
    (`additionalProperties: false`): what we publish has exactly the fields named."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if "properties" in out and out.get("type", "object") == "object":
        out["additionalProperties"] = False
    return out


def _closed_schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    """Register `model` (and the models it uses) closed under components; return its $ref.
    A name already registered for another shape is an error, not a silent merge."""
    found = closed(model.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE))
    for name, definition in {**found.pop("$defs", {}), model.__name__: found}.items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two schemas named {name} in the AsyncAPI document")
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


COMMAND_HEADERS = {
    "type": "object",
    "properties": {
        ORIGIN_HEADER: {
            "type": "string",
            "const": "http",
            "description": "sent by the facade; believed only with a matching proof",
        },
        PROOF_HEADER: {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": (
                "HMAC-SHA256 of the record's value under a key derived from CRM_JWT_SECRET "
                "(which only the facade and the worker have). Without a matching proof a "
                "command is `kafka`: its events' changeorigin says so."
            ),
        },
    },
}


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
            "headers": COMMAND_HEADERS,
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
        "tags": [],
        "ownerId": "u1",
        "createdAt": "2026-11-20T10:00:00.000Z",
        "updatedAt": "2026-11-21T08:00:00.123Z",
        "createdBy": "u1",
        "vip": {"isVip": False, "reason": None, "markedAt": None, "markedBy": None},
        "metrics": None,
        "profile": {
            "interactionCount": 0,
            "lastInteractionAt": None,
            "openCommitments": 0,
            "healthScore": 50,
            "computedAt": "2026-11-20T10:00:00.000Z",
        },
    },
}
CHANGE_EVENT_DESCRIPTION = (
    "Type crm.<entity>.<past-tense> (one message per type below); key tenantId:customerId; "
    "subject the entity's id; data the entity's public view after the change (the same "
    "fields reads answer). Extensions: tenantid; sequence (per customer, over all its "
    "events of every type: 1 for its first event, then exactly one more per event, no gaps, "
    "no number twice, also with many workers; a re-published event keeps its id and "
    "sequence); causationid (the command id); changeorigin (http | kafka | "
    "integration:<source>: `http` only for a command whose crm-origin-proof header "
    "checked out); on events about a document that replaced a stored one (*.updated, "
    "*.deleted, vip_marked, profile_refreshed) changedfields (comma-separated camelCase "
    "names of the top-level fields of data that changed, maybe none) and previousvalues "
    "(a JSON object as a string: the previous value of each changed field that existed "
    "before; a changed field missing from it did not exist). Consumers deduplicate by `id` "
    "(at-least-once delivery) and order by `sequence`. Phones and emails are masked unless "
    "CRM_EVENT_PII=clear."
)
CHANGED_FIELDS = {
    "type": "string",
    "pattern": "^([a-z][A-Za-z0-9]*(,[a-z][A-Za-z0-9]*)*)?$",
    "description": "comma-separated camelCase names of the top-level fields of data that changed",
}


def _previous_values(data: dict[str, Any]) -> dict[str, Any]:
    """`previousvalues`: a JSON string whose object has some of data's fields."""
    return {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {
            "type": "object",
            "properties": data["properties"],
            "additionalProperties": False,
        },
        "description": (
            "JSON object: the previous value of each changed field that existed before "
            "(a changed field missing here did not exist)"
        ),
    }


def _change_event_payload(event_type: EventType, schemas: dict[str, Any]) -> dict[str, Any]:
    """The whole CloudEvent of `event_type`, closed: ChangeEvent's attributes with `type`
    fixed, `data` its data model, the update extensions only where they occur."""
    envelope = ChangeEvent.model_json_schema(by_alias=True)
    properties = dict(envelope["properties"])
    data_ref = _closed_schema(event_type.data, schemas)
    data = schemas[event_type.data.__name__]
    properties["type"] = {"type": "string", "const": event_type.name}
    properties["data"] = data_ref
    properties["changeorigin"] = {
        **properties["changeorigin"],
        "pattern": "^(http|kafka|integration:.+)$",
        "description": "http | kafka | integration:<source system>",
    }
    properties["sequence"] = {
        **properties["sequence"],
        "description": "per customer: 1, 2, 3, ... exactly one more per event, no gaps",
    }
    properties["causationid"] = {**properties["causationid"], "description": "the command id"}
    required = [name for name in envelope["required"] if name in properties]
    for name in ("changedfields", "previousvalues"):
        del properties[name]
    if event_type.replaces:
        properties["changedfields"] = CHANGED_FIELDS
        properties["previousvalues"] = _previous_values(data)
    for name in ("specversion", "source", "datacontenttype"):  # defaults: always sent
        required.append(name)
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(set(required), key=list(properties).index),
        "additionalProperties": False,
    }


def message_name(event_type: EventType) -> str:
    return "event_" + event_type.name.replace(".", "_")


def _change_event_messages(schemas: dict[str, Any]) -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        message: dict[str, Any] = {
            "name": event_type.name,
            "title": f"Change event {event_type.name} (CloudEvents 1.0)",
            "contentType": "application/cloudevents+json",
            "summary": f"data is {event_type.data.__name__}; key tenantId:customerId",
            "description": CHANGE_EVENT_DESCRIPTION,
            "payload": _change_event_payload(event_type, schemas),
        }
        if event_type.name == CHANGE_EVENT_EXAMPLE["type"]:
            message["examples"] = [{"name": "updated", "payload": CHANGE_EVENT_EXAMPLE}]
        messages[message_name(event_type)] = message
    return messages


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
    change_messages = _change_event_messages(schemas)
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
            "description": ("Outbound change events, relayed in each customer's sequence order."),
            "messages": {
                name: {"$ref": f"#/components/messages/{name}"} for name in change_messages
            },
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
            "description": (
                "Kafka contract of the CRM backend (docs/architecture.md: Commands, "
                "Dead letters, Change events, Integration events)."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                **command_messages,
                **integration_messages,
                **change_messages,
                "DeadLetter": dead_letter,
            },
            "schemas": dict(sorted(schemas.items())),
        },
    }
