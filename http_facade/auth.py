"""Bearer JWT (HS256) authentication, permissions and the tenant of a request."""

from dataclasses import dataclass
from typing import Any

import jwt
from fastapi import Request

from http_facade.errors import ApiError
from schemas.errors import ErrorCode, ErrorKind

ALGORITHM = "HS256"
PII_PERMISSION = "customers.pii"
CLOCK_SKEW_S = 30


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
    """Verified claims, or 401. Only HS256 is accepted (`alg: none` and others are refused)."""
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
    permissions = claims.get("permissions", [])
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise _unauthorized("invalid token: permissions must be a list of strings")
    if not isinstance(claims["sub"], str) or not isinstance(claims["tenant"], str):
        raise _unauthorized("invalid token: sub and tenant must be strings")
    if not claims["sub"] or not claims["tenant"]:
        raise _unauthorized("invalid token: empty sub or tenant")
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
    import time

    now = int(time.time())
    claims = {
        "sub": sub,
        "tenant": tenant,
        "permissions": permissions,
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
