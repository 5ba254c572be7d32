"""Regressions for what the schemathesis fuzzer (tests/fuzz) found.

Each of these requests used to be accepted by the facade and then refused by the worker
(dead-lettered: the client got a 202 pointing at a command that never finished) or crashed
the facade (500). Each is now a 400 at the edge, in the family's error envelope.
"""

import httpx
import pytest

from tests.helpers import auth, new_request_id

A = "/api/v1/api/customers"
B = "/api/v1/crm"
TOO_LONG = "x" * 129  # ids are 1–128 characters, as in the command payloads


def write(**headers: str) -> dict[str, str]:
    return auth(request_id=new_request_id(), **headers)


async def new_customer(client: httpx.AsyncClient) -> str:
    response = await client.post(f"{B}/customers", json={"name": new_request_id()}, headers=write())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def assert_invalid(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    code = body["error"]["code"] if "error" in body else body["code"]
    assert code == "VALIDATION_ERROR"


ROUTES_WITH_IDS = [
    ("POST", f"{A}/{{id}}/interactions", {"interactionType": "call"}),
    (
        "POST",
        f"{A}/{{id}}/bind-external",
        {"systemType": "im", "systemName": "w", "externalId": "e"},
    ),
    ("POST", f"{A}/{{id}}/refresh", {"source": "crm"}),
    ("POST", f"{A}/{{id}}/service-records", {"title": "t", "description": "d"}),
    ("PATCH", f"{A}/{{id}}/commitments/c1", {"progress": 10}),
    ("POST", f"{A}/{{id}}/mark-vip", {}),
    ("GET", f"{A}/{{id}}", None),
    ("PATCH", f"{B}/customers/{{id}}", {"level": "A"}),
    ("DELETE", f"{B}/contacts/{{id}}", None),
    ("PATCH", f"{B}/opportunities/{{id}}", {"stage": "won"}),
    ("DELETE", f"{B}/follow-ups/{{id}}", None),
    ("GET", f"{B}/contracts/{{id}}", None),
]


@pytest.mark.parametrize("bad_id", [TOO_LONG, "%C2%85", "%20"], ids=["too long", "NEL", "blank"])
async def test_path_ids_the_worker_would_refuse_are_400(
    client: httpx.AsyncClient, bad_id: str
) -> None:
    """Too long, or blank once trimmed as the payload's `Id` trims (U+0085 is whitespace):
    before, the customer profile API's writes sent such ids on to the worker, which
    dead-lettered the command."""
    for method, path, body in ROUTES_WITH_IDS:
        url = path.replace("{id}", bad_id)
        response = await client.request(method, url, json=body, headers=write())
        assert response.status_code == 400, f"{method} {url}: {response.text}"
        assert_invalid(response)


async def test_commitment_id_is_bounded_too(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    response = await client.patch(
        f"{A}/{customer_id}/commitments/{TOO_LONG}", json={"progress": 10}, headers=write()
    )
    assert_invalid(response)


async def test_x_user_id_is_bounded_like_the_owner_id_it_becomes(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        f"{B}/customers", json={"name": "Owned"}, headers=write(x_user_id=TOO_LONG)
    )
    assert_invalid(response)
    fine = await client.post(
        f"{B}/customers", json={"name": "Owned"}, headers=write(x_user_id="u" * 128)
    )
    assert fine.status_code == 201
    assert fine.json()["ownerId"] == "u" * 128


async def test_timestamps_outside_four_digit_utc_years_are_400(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    for moment in (
        "0402-12-02T00:00:00Z",  # stored as "402-12-02..." (not fixed-width): the worker failed
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: OverflowError in the worker
        "9999-12-31T23:30:00-01:00",  # after year 9999 in UTC
    ):
        interaction = await client.post(
            f"{A}/{customer_id}/interactions",
            json={"interactionType": "call", "occurredAt": moment},
            headers=auth(),
        )
        assert_invalid(interaction)
        follow_up = await client.post(
            f"{B}/follow-ups",
            json={"customerId": customer_id, "content": "c", "followedAt": moment},
            headers=write(),
        )
        assert_invalid(follow_up)


async def test_expected_close_dates_that_crashed_the_facade_are_400(
    client: httpx.AsyncClient,
) -> None:
    """`expectedCloseDate` accepts a timestamp (its UTC day is kept); one whose UTC day is
    out of range raised OverflowError inside validation: a 500."""
    customer_id = await new_customer(client)
    for day in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-02:00", "0999-06-01"):
        response = await client.post(
            f"{B}/opportunities",
            json={"customerId": customer_id, "name": "Deal", "expectedCloseDate": day},
            headers=write(),
        )
        assert_invalid(response)


async def test_early_but_valid_years_are_stored_fixed_width(client: httpx.AsyncClient) -> None:
    customer_id = await new_customer(client)
    response = await client.post(
        f"{A}/{customer_id}/interactions",
        json={"interactionType": "call", "occurredAt": "1000-01-01T00:00:00Z"},
        headers=auth(),
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["occurredAt"] == "1000-01-01T00:00:00.000Z"


# --- found probing the one open-ended body (import items are any JSON, checked per item) ---


IMPORT_ITEMS_THE_COMMAND_CANNOT_CARRY = {
    "NaN": ('[NaN, {"name": "a"}]', "NaN or Infinity"),  # the digests differed: a false 409
    "Infinity": ('[{"name": "b", "level": Infinity}]', "NaN or Infinity"),
    "surrogate value": ('[{"name": "\\ud800"}]', "lone UTF-16 surrogate"),  # 500 on publish
    "surrogate key": ('[{"name": "c", "\\udfff": 1}]', "lone UTF-16 surrogate"),
    # an object of strings only is checked without the walk: its keys too
    "surrogate key, string value": ('[{"name": "d", "\\udfff": "x"}]', "lone UTF-16 surrogate"),
    "deep": ("[" + "[" * 900 + "]" * 900 + "]", "nested deeper"),  # 500: not serializable
}


async def test_import_items_the_command_cannot_carry_are_400(client: httpx.AsyncClient) -> None:
    for what, (items, problem) in IMPORT_ITEMS_THE_COMMAND_CANNOT_CARRY.items():
        response = await client.post(
            f"{B}/customers/import",
            content=f'{{"items": {items}}}',
            headers={**write(), "Content-Type": "application/json"},
        )
        assert response.status_code == 400, f"{what}: {response.text}"
        assert_invalid(response)
        assert problem in response.json()["message"], what


async def test_a_repeated_import_is_not_a_key_reuse(client: httpx.AsyncClient) -> None:
    """The gateway digests the payload as published, as the worker does: a repeat of the
    same request returns the first result (never 409 `IDEMPOTENCY_KEY_REUSED`)."""
    headers = {**write(), "Content-Type": "application/json"}
    body = '{"items": [{"name": "Repeat Import", "score": 1.5, "x": [1, 2.25]}]}'
    first = await client.post(f"{B}/customers/import", content=body, headers=headers)
    again = await client.post(f"{B}/customers/import", content=body, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
