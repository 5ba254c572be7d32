"""A command id names one command: delivered again with the same type and payload it answers
its first result (at most one effect); with another type or payload the commands topic's
consumer refuses it (`CommandIdReused`, dead-lettered as `id_reused`) and the first result
stands (issue 20 item 8). Generated pairs of payloads, including ones that differ only in a
nested value, a key, a number's JSON type or the command type."""

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.pipeline import CommandIdReused, CommandProcessor
from schemas.envelope import CommandEnvelope, CommandType
from storage.customers import CUSTOMERS
from tests.helpers import indexed_memory_db

NAMES = st.text(alphabet="abcdefgh ", min_size=1, max_size=8).filter(str.strip)
REMARKS = st.none() | st.text(alphabet="xyz\n", max_size=5)
TAGS = st.lists(st.sampled_from(["a", "b", "A"]), max_size=3)


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": draw(NAMES)}
    remark = draw(REMARKS)
    if remark is not None:
        payload["remark"] = remark
    if draw(st.booleans()):
        payload["tags"] = draw(TAGS)
    return payload


def envelope(command_type: CommandType, payload: dict[str, Any]) -> CommandEnvelope:
    return CommandEnvelope(
        command_id="k-1", type=command_type, tenant_id="t1", actor_id="u1", payload=payload
    )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(payloads(), payloads(), st.booleans())
def test_a_reused_id_is_refused_unless_it_is_the_same_command(
    first: dict[str, Any], second: dict[str, Any], import_instead: bool
) -> None:
    async def scenario() -> None:
        db = await indexed_memory_db()
        processor = CommandProcessor(db)
        result = await processor.process(envelope(CommandType.CUSTOMER_CREATE, first))
        again_type = CommandType.CUSTOMER_IMPORT if import_instead else CommandType.CUSTOMER_CREATE
        again_payload = {"items": [second]} if import_instead else second
        same = again_type is CommandType.CUSTOMER_CREATE and again_payload == first
        if same:
            repeat = await processor.process(envelope(again_type, again_payload), refuse_reuse=True)
            assert repeat == result
        else:
            with pytest.raises(CommandIdReused):
                await processor.process(envelope(again_type, again_payload), refuse_reuse=True)
            # inside the worker's own paths (integration events) the first result stands
            kept = await processor.process(envelope(again_type, again_payload))
            assert kept == result
        assert await db[CUSTOMERS].count_documents({}) == (1 if result.entity_id else 0)

    asyncio.run(scenario())
