"""`crm publish` chooses the topic and the partition key from the message itself."""

import json
from pathlib import Path

from crm.topic_cli import load_messages, route
from schemas.ids import created_customer_id
from schemas.topics import Topics

TOPICS = Topics()


def test_command_keyed_by_its_customer() -> None:
    command = {
        "commandId": "c1",
        "type": "customer.mark_vip",
        "tenantId": "t1",
        "payload": {"customerId": "k9"},
    }
    assert route(command, TOPICS) == ("crm.commands", b"t1:k9")


def test_create_keyed_by_the_customer_it_will_create() -> None:
    command = {
        "commandId": "c1",
        "type": "customer.create",
        "tenantId": "t1",
        "payload": {"name": "A"},
    }
    assert route(command, TOPICS) == (
        "crm.commands",
        f"t1:{created_customer_id('t1', 'c1')}".encode(),
    )


def test_cloudevent_goes_to_the_integration_topic() -> None:
    event = {
        "specversion": "1.0",
        "id": "e1",
        "tenantid": "t1",
        "type": "profile.metrics",
        "data": {"customerId": "k9"},
    }
    assert route(event, TOPICS) == ("crm.integration.events", b"t1:k9")


def test_load_object_array_and_json_lines(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"a": 1}))
    many = tmp_path / "many.json"
    many.write_text(json.dumps([{"a": 1}, {"a": 2}]))
    lines = tmp_path / "lines.jsonl"
    lines.write_text('{"a": 1}\n{"a": 2}\n')
    assert load_messages(one) == [{"a": 1}]
    assert len(load_messages(many)) == 2
    assert len(load_messages(lines)) == 2
