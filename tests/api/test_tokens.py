"""Bearer tokens at the HTTP edge of both API families: what is refused (401), what is a
tenant mismatch (403), and the clock-skew allowance."""

import base64
import hashlib
import hmac
import json
import time
import warnings
from typing import Any

import httpx
import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from http_facade import auth as auth_module
from http_facade.auth import CLOCK_SKEW_S, decode_token
from http_facade.errors import ApiError
from tests.helpers import ALL_PERMISSIONS, TEST_SECRET, auth, make_token

API_A_READ = "/api/v1/api/customers/some-id"  # 404 once the token is accepted
API_B_READ = "/api/v1/crm/customers"  # 200 once the token is accepted
ACCEPTED = {API_A_READ: 404, API_B_READ: 200}


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged(header: dict[str, Any], **overrides: Any) -> str:
    """A token with any header, signed HMAC-SHA256 with the real secret whatever it claims
    (the algorithm-confusion attack), or unsigned for `alg: none`."""
    now = int(time.time())
    claims = {
        "sub": "u1",
        "tenant": "t1",
        "permissions": list(ALL_PERMISSIONS),
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    if str(header.get("alg", "")).lower() == "none":
        return f"{signing_input}."
    digest = hmac.new(TEST_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def other_algorithm(algorithm: str) -> str:
    """Signed with the real secret, by an HMAC algorithm other than HS256."""
    with warnings.catch_warnings():  # the test secret is short for SHA-384/512: no matter
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return make_token(algorithm=algorithm)


NOW = int(time.time())
REFUSED = {
    "alg none": forged({"alg": "none", "typ": "JWT"}),
    "alg NONE": forged({"alg": "NONE", "typ": "JWT"}),
    "alg none, HS256 signature kept": forged({"alg": "HS256"}).rsplit(".", 1)[0] + ".",
    "HS384": other_algorithm("HS384"),
    "HS512": other_algorithm("HS512"),
    "RS256 header, HMAC signature": forged({"alg": "RS256", "typ": "JWT"}),
    "no alg": forged({"typ": "JWT"}),
    "no exp": make_token(exp=None),
    "exp not a number": forged({"alg": "HS256"}, exp="tomorrow"),
    "expired beyond the skew": make_token(exp=NOW - CLOCK_SKEW_S - 60),
    "issued in the future": make_token(iat=NOW + CLOCK_SKEW_S + 3600),
    "not valid before a future nbf": make_token(nbf=NOW + CLOCK_SKEW_S + 3600),
    "wrong secret": make_token(secret="another-secret-0123456789-0123456789"),
    "no sub": make_token(sub=None),
    "no tenant": make_token(tenant=None),
    "sub not a string": forged({"alg": "HS256"}, sub=42),
    "sub longer than 128": make_token(sub="u" * 129),
    "tenant with spaces around": make_token(tenant=" t1 "),
    "permissions not a list": forged({"alg": "HS256"}, permissions="crm.read"),
    "not a JWT": "not.a.token",
}


@pytest.mark.parametrize("path", [API_A_READ, API_B_READ])
async def test_refused_tokens_are_401(client: httpx.AsyncClient, path: str) -> None:
    for what, token in REFUSED.items():
        response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, f"{what}: {response.text}"
        assert response.headers["www-authenticate"] == "Bearer"
        body = response.json()
        code = body["error"]["code"] if path == API_A_READ else body["code"]
        assert code == "UNAUTHORIZED", what


@pytest.mark.parametrize("path", [API_A_READ, API_B_READ])
async def test_clock_skew_is_allowed(client: httpx.AsyncClient, path: str) -> None:
    slightly_ahead = make_token(iat=int(time.time()) + CLOCK_SKEW_S // 2)
    response = await client.get(path, headers={"Authorization": f"Bearer {slightly_ahead}"})
    assert response.status_code == ACCEPTED[path], response.text


@pytest.mark.parametrize("path", [API_A_READ, API_B_READ])
async def test_tenant_header_must_match_the_token(client: httpx.AsyncClient, path: str) -> None:
    mismatch = await client.get(path, headers=auth(tenant="t1", x_tenant_id="t2"))
    assert mismatch.status_code == 403
    body = mismatch.json()
    assert (body["error"]["code"] if path == API_A_READ else body["code"]) == "TENANT_MISMATCH"
    same = await client.get(path, headers=auth(tenant="t1", x_tenant_id="t1"))
    assert same.status_code == ACCEPTED[path]


def test_a_future_iat_is_refused_even_where_pyjwt_would_not_check_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PyJWT releases have differed on `iat` in the future; ours is checked either way."""
    real_decode = jwt.decode

    def decode_without_iat_check(*args: Any, **kwargs: Any) -> Any:
        kwargs["options"] = {**kwargs.get("options", {}), "verify_iat": False}
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(auth_module.jwt, "decode", decode_without_iat_check)
    with pytest.raises(ApiError) as caught:
        decode_token(make_token(iat=int(time.time()) + 3600), TEST_SECRET)
    assert caught.value.status == 401
    assert "future" in caught.value.message


def test_a_remembered_token_is_still_refused_once_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Verified tokens are remembered; their expiry is checked on every use all the same."""
    token = make_token(exp=int(time.time()) + 60)
    assert decode_token(token, TEST_SECRET)["sub"] == "u1"
    assert decode_token(token, TEST_SECRET)["sub"] == "u1"  # the remembered verdict
    later = time.time() + 60 + CLOCK_SKEW_S + 1
    monkeypatch.setattr(auth_module.time, "time", lambda: later)
    with pytest.raises(ApiError) as refused:
        decode_token(token, TEST_SECRET)
    assert refused.value.status == 401
    assert "expired" in str(refused.value.message)
    with pytest.raises(ApiError):  # another secret: verified anew, refused
        decode_token(make_token(), "another-secret-of-enough-length-0123456789")
