"""What the facade refuses before any command is sent (README "Input rules"): ids outside
the id rule (X-Request-ID, X-User-Id, path ids, token claims), bodies that are not JSON,
text holding control, bidi or zero-width characters, numbers and booleans of the wrong
JSON type; and what `null` for a list means. Each answer is in its API family's envelope,
and nothing refused reaches the commands topic.

These run on the facade alone (`tests.api.facade_only`): no broker, no worker.
"""

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from tests.api.facade_only import FacadeOnly, facade_only
from tests.helpers import ALL_PERMISSIONS, TEST_SECRET, auth, make_token

API_A = "/api/v1/api/customers"
API_B = "/api/v1/crm/customers"


@pytest.fixture
async def facade() -> AsyncIterator[FacadeOnly]:
    async with facade_only() as running:
        yield running


def error_of(response: httpx.Response, status: int, path: str) -> dict[str, Any]:
    """The error, checked to be exactly the envelope of the path's API family."""
    assert response.status_code == status, response.text
    body = response.json()
    if path.startswith("/api/v1/api/"):
        assert set(body) == {"success", "error"} and body["success"] is False, body
        assert set(body["error"]) == {"message", "code"}, body
        return dict(body["error"])
    assert set(body) == {"code", "message", "details", "requestId"}, body
    assert body["requestId"] == response.headers["x-request-id"]
    return dict(body)


# --- X-Request-ID: the idempotency key --------------------------------------------------

BAD_REQUEST_IDS = {
    "129 characters": "k" * 129,
    "a space inside": "order 42",
    "not ASCII": "заказ-42".encode(),
    "latin-1 lookalike": "r\xe9q-1".encode("latin-1"),
    "a control character": "r-1\x7f",
    "a slash": "orders/42",
    "a query": "order?42",
    "a fragment": "order#42",
    "a percent escape": "order%2F42",
    "a separator": "t1|order-42",
}


@pytest.mark.parametrize("what", sorted(BAD_REQUEST_IDS))
@pytest.mark.parametrize("path", [API_A, API_B])
async def test_a_request_id_outside_the_rule_is_400_and_not_echoed(
    facade: FacadeOnly, path: str, what: str
) -> None:
    bad = BAD_REQUEST_IDS[what]
    headers: dict[str, Any] = {**auth(), "X-Request-ID": bad}
    for response in (
        await facade.http.post(path, json={"name": "Acme"}, headers=headers),
        await facade.http.get(path if path == API_B else f"{path}/c1", headers=headers),
    ):
        error = error_of(response, 400, path)
        assert error["code"] == "INVALID_REQUEST_ID"
        assert "128" in error["message"]
        echoed = response.headers["x-request-id"]
        assert echoed != (bad.decode("latin-1") if isinstance(bad, bytes) else bad)
        assert len(echoed) == 36  # a generated one
    assert facade.published == []


async def test_two_long_request_ids_are_never_cut_to_one_key(facade: FacadeOnly) -> None:
    """They shared their first 128 characters and were once merged into one write."""
    common = "k" * 128
    for tail, name in (("1", "First"), ("2", "Second")):
        response = await facade.http.post(
            API_B, json={"name": name}, headers=auth(request_id=common + tail)
        )
        assert error_of(response, 400, API_B)["code"] == "INVALID_REQUEST_ID"
    accepted = await facade.http.post(
        API_B, json={"name": "First"}, headers=auth(request_id=common)
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["x-request-id"] == common
    [command] = facade.published
    assert command["commandId"] == common  # the whole key, exactly as sent


async def test_a_request_id_of_the_allowed_characters_is_kept_whole(facade: FacadeOnly) -> None:
    """Letters, digits, `.`, `_`, `:`, `-`: the key is the command id, and the 202's
    `Location` names its status resource without any escaping."""
    key = "AZaz09._:-" + "x" * 118
    response = await facade.http.post(API_B, json={"name": "Acme"}, headers=auth(request_id=key))
    assert response.status_code == 202, response.text
    assert facade.published[0]["commandId"] == key
    status = await facade.http.get(response.headers["Location"], headers=auth())
    assert status.status_code == 200, status.text
    assert status.json()["commandId"] == key


# --- other ids: X-User-Id, path ids, token claims ----------------------------------------

BAD_IDS: dict[str, Any] = {
    "129 characters": "u" * 129,
    "a space inside": "user 1",
    "not ASCII": "用户".encode(),
}


@pytest.mark.parametrize("what", sorted(BAD_IDS))
async def test_an_x_user_id_outside_the_rule_is_400(facade: FacadeOnly, what: str) -> None:
    headers = {**auth(request_id="r-user"), "X-User-Id": BAD_IDS[what]}
    created = await facade.http.post(API_B, json={"name": "Acme"}, headers=headers)
    assert error_of(created, 400, API_B)["code"] == "VALIDATION_ERROR"
    listed = await facade.http.get(API_B, headers=headers)
    assert error_of(listed, 400, API_B)["code"] == "VALIDATION_ERROR"
    assert facade.published == []


@pytest.mark.parametrize(
    "path",
    [
        f"{API_A}/{'c' * 129}",
        f"{API_A}/c%201/mark-vip",
        f"{API_A}/%E5%AE%A2%E6%88%B7",  # 客户
        f"{API_B}/c%201",
        f"{API_B}/{'c' * 129}",
        "/api/v1/crm/contacts/%C3%A9",
        "/api/v1/crm/commands/c%201",
        f"/api/v1/crm/commands/{'c' * 129}",
        "/api/v1/crm/commands/c%7C1",  # c|1: a visible ASCII id, but no command id
    ],
)
async def test_a_path_id_outside_the_rule_is_400(facade: FacadeOnly, path: str) -> None:
    method = "POST" if path.endswith("mark-vip") else "GET"
    response = await facade.http.request(method, path, headers=auth(request_id="r-path"))
    assert error_of(response, 400, path)["code"] == "VALIDATION_ERROR"
    assert facade.published == []


def _signed(**claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "u1", "tenant": "t1", "permissions": list(ALL_PERMISSIONS), "iat": now}
    body |= {"exp": now + 3600, **claims}
    return jwt.encode(body, TEST_SECRET, algorithm="HS256")


REFUSED_CLAIMS = {
    "exp a string of digits": _signed(exp=str(int(time.time()) + 3600)),
    "exp true": _signed(exp=True),
    "iat a string": _signed(iat=str(int(time.time()))),
    "iat false": _signed(iat=False),
    "nbf a string": _signed(nbf="1"),
    "nbf true": _signed(nbf=True),
    "sub with a space": _signed(sub="u 1"),
    "sub not ASCII": _signed(sub="用户"),
    "tenant with a control character": _signed(tenant="t\x001"),
    "tenant of 129 characters": _signed(tenant="t" * 129),
}


@pytest.mark.parametrize("what", sorted(REFUSED_CLAIMS))
@pytest.mark.parametrize("path", [f"{API_A}/c1", API_B])
async def test_a_token_with_a_claim_of_the_wrong_kind_is_401(
    facade: FacadeOnly, path: str, what: str
) -> None:
    headers = {"Authorization": f"Bearer {REFUSED_CLAIMS[what]}"}
    response = await facade.http.get(path, headers=headers)
    assert error_of(response, 401, path)["code"] == "UNAUTHORIZED", what


async def test_numeric_time_claims_and_visible_ascii_ids_are_accepted(facade: FacadeOnly) -> None:
    token = _signed(exp=time.time() + 3600.5, nbf=int(time.time()) - 10, sub="auth0|5f7c8ec7")
    response = await facade.http.get(API_B, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


# --- bodies that are not JSON: 415 -------------------------------------------------------

NOT_JSON = {
    "text/plain": {"Content-Type": "text/plain"},
    "a form": {"Content-Type": "application/x-www-form-urlencoded"},
    "XML": {"Content-Type": "application/xml"},
    "no Content-Type": {},
}


@pytest.mark.parametrize("what", sorted(NOT_JSON))
@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", API_A),
        ("POST", f"{API_A}/c1/interactions"),
        ("DELETE", f"{API_A}/c1/bindings"),
        ("POST", API_B),
        ("PATCH", f"{API_B}/c1"),
        ("POST", "/customers"),  # the direct "cell" path
        ("POST", "/api/v1/crm/payments"),
    ],
)
async def test_a_body_that_is_not_json_is_415(
    facade: FacadeOnly, method: str, path: str, what: str
) -> None:
    headers = {**auth(request_id="r-415"), **NOT_JSON[what]}
    response = await facade.http.request(method, path, content=b'{"name": "Acme"}', headers=headers)
    assert error_of(response, 415, path)["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert facade.published == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/x+json",
    ],
)
async def test_json_media_types_are_accepted(facade: FacadeOnly, content_type: str) -> None:
    headers = {**auth(request_id=f"r-{len(facade.published)}"), "Content-Type": content_type}
    response = await facade.http.post(API_B, content=b'{"name": "Acme"}', headers=headers)
    assert response.status_code == 202, response.text


async def test_a_request_without_a_body_needs_no_content_type(facade: FacadeOnly) -> None:
    """Mark VIP takes an optional body; a DELETE none."""
    mark = await facade.http.post(f"{API_A}/c1/mark-vip", headers=auth())
    assert mark.status_code == 202, mark.text
    delete = await facade.http.delete(f"{API_B}/c1", headers=auth(request_id="r-del"))
    assert delete.status_code == 202, delete.text


def test_the_openapi_documents_the_415_of_every_operation_with_a_body() -> None:
    from crm.contracts import contract_documents

    paths = contract_documents()["api_contract.yaml"]["paths"]
    with_body = [
        (path, method, operation)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(with_body) > 15
    for path, method, operation in with_body:
        assert "415" in operation["responses"], (method, path)
    assert "415" not in paths[API_B]["get"]["responses"]


# --- text: no controls, bidi or zero-width characters ------------------------------------

INVISIBLE = {
    "NUL": "\x00",
    "tab": "\t",
    "line feed": "\n",
    "carriage return": "\r",
    "escape": "\x1b",
    "DEL": "\x7f",
    "C1 next line": "\x85",
    "C1 CSI": "\x9b",
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "first strong isolate": "\u2068",
    "pop directional isolate": "\u2069",
    "right-to-left mark": "\u200f",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "byte order mark": "\ufeff",
}
MULTI_LINE_ALLOWED = {"tab", "line feed", "carriage return"}


@pytest.mark.parametrize("what", sorted(INVISIBLE))
async def test_names_holding_an_invisible_character_are_400(facade: FacadeOnly, what: str) -> None:
    name = f"Ac{INVISIBLE[what]}me"
    for path, body, headers in (
        (API_A, {"name": name}, auth()),
        (API_B, {"name": name}, auth(request_id="r-name")),
        (f"{API_B}/c1", {"name": name}, auth(request_id="r-rename")),
        ("/api/v1/crm/contacts", {"customerId": "c1", "name": name}, auth(request_id="r-c")),
        (API_B, {"name": "Acme", "company": name}, auth(request_id="r-company")),
        (API_B, {"name": "Acme", "tags": ["vip", name]}, auth(request_id="r-tag")),
        (API_B, {"name": "Acme", "email": f"a{INVISIBLE[what]}b@x.cn"}, auth(request_id="r-e")),
    ):
        method = "PATCH" if path.endswith("/c1") else "POST"
        response = await facade.http.request(method, path, json=body, headers=headers)
        assert error_of(response, 400, path)["code"] == "VALIDATION_ERROR", (what, path, body)
    assert facade.published == []


@pytest.mark.parametrize("what", sorted(INVISIBLE))
async def test_multi_line_text_keeps_line_breaks_and_tabs_only(
    facade: FacadeOnly, what: str
) -> None:
    text = f"first line{INVISIBLE[what]}second line"
    cases = (
        (API_B, {"name": "Acme", "remark": text}),
        ("/api/v1/crm/follow-ups", {"customerId": "c1", "content": text}),
        (f"{API_A}/c1/interactions", {"interactionType": "call", "notes": text}),
    )
    for number, (path, body) in enumerate(cases):
        response = await facade.http.post(path, json=body, headers=auth(request_id=f"r-{number}"))
        if what in MULTI_LINE_ALLOWED:
            assert response.status_code == 202, (what, path, response.text)
        else:
            assert error_of(response, 400, path)["code"] == "VALIDATION_ERROR", (what, path)
    if what in MULTI_LINE_ALLOWED:
        assert facade.published[0]["payload"]["remark"] == text


async def test_names_in_any_script_are_accepted(facade: FacadeOnly) -> None:
    for number, name in enumerate(("上海示例科技", "Ａｃｍｅ", "Müller & Söhne", "شركة", "עברית")):
        response = await facade.http.post(
            API_B, json={"name": name}, headers=auth(request_id=f"r-script-{number}")
        )
        assert response.status_code == 202, (name, response.text)


# --- numbers are numbers, booleans booleans ----------------------------------------------

WRONG_TYPES = [
    ("/api/v1/crm/opportunities", {"customerId": "c1", "name": "Deal", "amount": "1000"}),
    ("/api/v1/crm/opportunities", {"customerId": "c1", "name": "Deal", "amount": True}),
    ("/api/v1/crm/contracts", {"contractNo": "N", "customerId": "c1", "amount": "5"}),
    ("/api/v1/crm/payments", {"contractId": "k1", "amount": False}),
    ("/api/v1/crm/contacts", {"customerId": "c1", "name": "Li", "isPrimary": 1}),
    ("/api/v1/crm/contacts", {"customerId": "c1", "name": "Li", "isPrimary": "true"}),
    (f"{API_A}/c1/commitments/k1", {"progress": "50"}),
    (f"{API_A}/c1/commitments/k1", {"progress": True}),
    (f"{API_A}/c1/refresh", {"source": "im", "metrics": {"satisfactionScore": True}}),
    (f"{API_A}/c1/refresh", {"source": "im", "metrics": {"issueCount": "3"}}),
    ("/api/v1/crm/follow-ups", {"customerId": "c1", "content": "x", "followedAt": 1700000000}),
    (f"{API_A}/c1/interactions", {"interactionType": "call", "occurredAt": True}),
]


@pytest.mark.parametrize("path,body", WRONG_TYPES)
async def test_a_value_of_the_wrong_json_type_is_400(
    facade: FacadeOnly, path: str, body: dict[str, Any]
) -> None:
    if path.endswith("/refresh"):
        body["metrics"] = {
            "satisfactionScore": 80,
            "issueCount": 1,
            "averageResolutionMinutes": 30,
            **body["metrics"],
        }
    method = "PATCH" if "/commitments/" in path else "POST"
    response = await facade.http.request(method, path, json=body, headers=auth(request_id="r-t"))
    assert error_of(response, 400, path)["code"] == "VALIDATION_ERROR", body
    assert facade.published == []


async def test_an_integer_is_a_number(facade: FacadeOnly) -> None:
    body = {"customerId": "c1", "name": "Deal", "amount": 1000}
    response = await facade.http.post(
        "/api/v1/crm/opportunities", json=body, headers=auth(request_id="r-int")
    )
    assert response.status_code == 202, response.text


# --- null for a list field is the empty list ---------------------------------------------


async def test_null_for_a_list_field_is_the_empty_list(facade: FacadeOnly) -> None:
    for path, body, method in (
        (API_B, {"name": "Acme", "tags": None}, "POST"),
        (API_A, {"name": "Beta", "tags": None}, "POST"),
        (f"{API_B}/c1", {"tags": None}, "PATCH"),
        (
            f"{API_A}/c1/service-records",
            {"title": "T", "description": "D", "commitments": None},
            "POST",
        ),
    ):
        number = len(facade.published)
        response = await facade.http.request(
            method, path, json=body, headers=auth(request_id=f"r-null-{number}")
        )
        assert response.status_code == 202, (path, response.text)
        payload = facade.published[number]["payload"]
        list_field = next(iter(set(body) & {"tags", "commitments"}))
        assert payload[list_field] == [], (path, payload)
    empty_import = await facade.http.post(
        f"{API_B}/import", json={"items": None}, headers=auth(request_id="r-null-import")
    )
    assert error_of(empty_import, 400, API_B)["code"] == "VALIDATION_ERROR"


# --- what the facade publishes -----------------------------------------------------------


async def test_a_published_command_carries_issued_at(facade: FacadeOnly) -> None:
    before = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 60))
    response = await facade.http.post(API_A, json={"name": "Acme"}, headers=auth())
    assert response.status_code == 202, response.text
    [command] = facade.published
    assert list(command) == ["commandId", "type", "tenantId", "actorId", "issuedAt", "payload"]
    issued = command["issuedAt"]
    assert len(issued) == 24 and issued.endswith("Z") and issued[:16] >= before, issued


# --- the per-tenant rate limit counts verified tenants only ------------------------------


async def test_nobody_drains_another_tenants_rate_limit() -> None:
    """Bucketing by `X-Tenant-Id` or by an unverified token let anyone, without a valid
    token, spend the tokens of another tenant's bucket."""
    async with facade_only(rate_limit_per_s=0.01, rate_limit_burst=2) as facade:
        forged = make_token(tenant="victim", secret="not-the-secret-0123456789-0123456789")
        for headers in ({"X-Tenant-Id": "victim"}, {"Authorization": f"Bearer {forged}"}):
            for _ in range(3):
                assert (await facade.http.get(API_B, headers=headers)).status_code == 401
        attacker = {**auth(tenant="attacker"), "X-Tenant-Id": "victim"}
        statuses = [(await facade.http.get(API_B, headers=attacker)).status_code for _ in range(3)]
        assert statuses == [403, 403, 429]  # the attacker's own bucket
        for _ in range(2):
            assert (await facade.http.get(API_B, headers=auth(tenant="victim"))).status_code == 200
        limited = await facade.http.get(API_B, headers=auth(tenant="victim"))
        assert error_of(limited, 429, API_B)["code"] == "RATE_LIMITED"
