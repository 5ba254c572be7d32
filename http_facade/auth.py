"""Bearer JWT (HS256) authentication, permissions and the tenant of a request.

Refused with 401: no token, a bad signature, `alg: none` or any algorithm but HS256, no
`exp` (or `sub`/`tenant`), an expired token, a token issued in the future (`iat` more
than `CLOCK_SKEW_S` ahead), claims of the wrong type: `exp`, `iat` and `nbf` must be JSON
numbers (PyJWT alone takes `"1999999999"` or `true`), `sub` and `tenant` ids
(`schemas.text`: 1–128 visible ASCII characters). A tenant header that is not the token's
tenant is a 403.
"""

import functools
import time
from dataclasses import dataclass
from typing import Any

import jwt
from fastapi import Request

from http_facade.errors import ApiError
from http_facade.middleware import note_tenant
from schemas.errors import ErrorCode, ErrorKind
from schemas.text import ID_RULE, is_id

ALGORITHM = "HS256"
PII_PERMISSION = "customers.pii"
CLOCK_SKEW_S = 30
TIME_CLAIMS = ("exp", "iat", "nbf")


@dataclass(frozen=True)
class Principal:
    """Who is calling, for which tenant, with which permissions."""

    user_id: str
    tenant_id: str
    permissions: frozenset[str]

    @property
    def sees_pii(self) -> bool:
        return PII_PERMISSION in self.permissions


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        ErrorKind.UNAUTHORIZED,
        ErrorCode.UNAUTHORIZED.value,
        message,
        headers={"WWW-Authenticate": "Bearer"},
    )


def decode_token(token: str, secret: str) -> dict[str, Any]:
    """Verified claims, or 401. Only HS256 is accepted (`alg: none` and others are refused).

    A client sends the same token with every request until it expires; verifying it
    (base64, JSON, HMAC) was the largest cost of a read. So tokens that passed are
    remembered (bounded) and, on a repeat, only the check that time can change is
    redone: expiry. (`nbf` and a future `iat` only get truer as time passes.)"""
    claims = _verified_claims(token, secret)
    if float(claims["exp"]) <= time.time() - CLOCK_SKEW_S:
        raise _unauthorized("token expired")
    return dict(claims)


@functools.lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str) -> dict[str, Any]:
    """Every check but the repeat of expiry; refused tokens are not remembered (an
    exception is never cached)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "tenant"]},
            leeway=CLOCK_SKEW_S,
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    for name in TIME_CLAIMS:
        # PyJWT reads these with int(): a string of digits, or a boolean, would pass.
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _unauthorized(f"invalid token: {name} must be a number (seconds since epoch)")
    # PyJWT 2.15 refuses a future `iat` itself; older and newer releases have differed on
    # this, so it is checked here too (`iat` is an integer once PyJWT has accepted it).
    if "iat" in claims and int(claims["iat"]) > time.time() + CLOCK_SKEW_S:
        raise _unauthorized("invalid token: issued in the future (iat)")
    permissions = claims.get("permissions", [])
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise _unauthorized("invalid token: permissions must be a list of strings")
    for name in ("sub", "tenant"):
        # They become ids of commands and of stored documents (`actorId`, `tenantId`).
        value = claims[name]
        if not isinstance(value, str):
            raise _unauthorized("invalid token: sub and tenant must be strings")
        if not is_id(value):
            raise _unauthorized(f"invalid token: {name} must be {ID_RULE}")
    return claims


def authenticate(request: Request, secret: str) -> Principal:
    """The caller of this request; the tenant is `X-Tenant-Id` if given, and must match."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token")
    claims = decode_token(token.strip(), secret)
    tenant = claims["tenant"]
    asked = request.headers.get("x-tenant-id")
    if asked is not None and asked != tenant:
        raise ApiError(
            ErrorKind.FORBIDDEN,
            ErrorCode.TENANT_MISMATCH.value,
            "X-Tenant-Id does not match the token's tenant",
        )
    note_tenant(tenant)
    return Principal(claims["sub"], tenant, frozenset(claims.get("permissions", [])))


def require_permission(principal: Principal, *permissions: str) -> None:
    """403 unless the caller has one of `permissions`."""
    if not principal.permissions.intersection(permissions):
        raise ApiError(
            ErrorKind.FORBIDDEN,
            ErrorCode.FORBIDDEN.value,
            f"missing permission: {' or '.join(permissions)}",
        )


def mint_token(
    secret: str, *, sub: str, tenant: str, permissions: list[str], ttl_s: int = 12 * 3600
) -> str:
    """A signed dev token (the `crm token` command)."""
    now = int(time.time())
    claims = {
        "sub": sub,
        "tenant": tenant,
        "permissions": permissions,
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
