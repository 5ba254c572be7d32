"""The Kafka side tells the same truth as HTTP (issue 20 item 8), on both backends:
- a `commandId` used again with another payload is dead-lettered (`id_reused`), not answered
  with the first result as if it were a redelivery;
- a dead letter's headers name the partition and offset the record really had;
- the commands the facade publishes carry `issuedAt` (docs/architecture.md, "Commands")."""

import json
import re
from typing import Any

import httpx

from crm.runtime import Runtime
from storage.customers import CUSTOMERS
from tests.conftest import attach_probe, processed, published
from tests.helpers import auth, publish_raw
from tests.integration.backends import Services, deployment

MILLISECONDS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def command(command_id: str, name: str, tenant: str = "t1") -> bytes:
    return json.dumps(
        {
            "commandId": command_id,
            "type": "customer.create",
            "tenantId": tenant,
            "actorId": "producer-1",
            "issuedAt": "2026-11-21T08:00:00Z",
            "payload": {"name": name},
        }
    ).encode()


async def test_a_command_id_reused_with_another_payload_is_dead_lettered(
    runtime: Runtime,
) -> None:
    topic = runtime.parts.topics.commands
    await publish_raw(runtime, topic, command("order-7", "Acme"), b"t1:a", {})
    await publish_raw(runtime, topic, command("order-7", "Globex"), b"t1:b", {"trace": "x"})
    await publish_raw(runtime, topic, command("order-7", "Acme"), b"t1:a", {})  # a redelivery
    await publish_raw(runtime, topic, command("order-7", "Globex", tenant="t2"), b"t2:b", {})
    await processed(runtime)

    [dead] = await published(runtime, runtime.parts.topics.commands_dlq)
    assert dead["headers"]["x-dlq-reason"] == "id_reused"
    assert "order-7" in dead["headers"]["x-dlq-error"]
    assert dead["headers"]["trace"] == "x"  # the original headers travel along
    assert dead["value"]["payload"] == {"name": "Globex"}  # the refused command, untouched
    names = {
        (doc["tenantId"], doc["name"]) async for doc in runtime.parts.store.db[CUSTOMERS].find({})
    }
    assert names == {("t1", "Acme"), ("t2", "Globex")}  # another tenant's id is its own


async def test_dead_letters_name_the_partition_and_offset_of_the_record(
    services: Services,
) -> None:
    async with deployment(services, partitions=3) as ([runtime], probe):
        attach_probe(runtime, probe)
        topic = runtime.parts.topics.commands
        for index in range(12):
            key = f"t1:key-{index}".encode()
            await publish_raw(runtime, topic, command(f"ok-{index}", f"C{index}"), key, {})
            await publish_raw(runtime, topic, b"{not json", key, {"poison": str(index)})
        dead = await published(runtime, runtime.parts.topics.commands_dlq)
        originals = {
            message["headers"]["poison"]: message
            for message in probe.messages(topic)
            if "poison" in message["headers"]
        }
        assert len(dead) == len(originals) == 12
        for letter in dead:
            original = originals[letter["headers"]["poison"]]
            assert letter["headers"]["x-dlq-original-topic"] == topic
            assert letter["headers"]["x-dlq-original-partition"] == str(original["partition"])
            assert letter["headers"]["x-dlq-original-offset"] == str(original["offset"])
        assert len({letter["headers"]["x-dlq-original-partition"] for letter in dead}) > 1
        assert min(int(letter["headers"]["x-dlq-original-offset"]) for letter in dead) >= 1


async def test_the_facade_publishes_commands_with_issued_at(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/api/v1/crm/customers", json={"name": "Acme"}, headers=auth(request_id="with-time")
    )
    assert response.status_code == 201, response.text
    [sent] = await published(runtime, runtime.parts.topics.commands)
    value: dict[str, Any] = sent["value"]
    assert list(value) == ["commandId", "type", "tenantId", "actorId", "issuedAt", "payload"]
    assert MILLISECONDS_UTC.match(value["issuedAt"]), value["issuedAt"]
    assert value["issuedAt"] <= response.json()["createdAt"]
