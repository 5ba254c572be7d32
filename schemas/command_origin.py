"""Telling the facade's commands from other producers' on `crm.commands`.

The facade publishes each command with the headers `crm-origin: http` and
`crm-origin-proof`: an HMAC-SHA256 of the record's value under a key derived from
`CRM_JWT_SECRET`, which the facade and the worker share and producers do not have. The
worker takes a command as `http` only with a proof that matches its value; anything
else (no header, a copied header on another value, a wrong proof) is `kafka`. A record
copied whole (value and headers) is the same command id: it has no second effect.
"""

import hashlib
import hmac
from collections.abc import Mapping

from schemas.events import ORIGIN_HTTP, ORIGIN_KAFKA

ORIGIN_HEADER = "crm-origin"
PROOF_HEADER = "crm-origin-proof"
_KEY_LABEL = b"crm command origin v1"  # the key is for this and nothing else


def origin_key(secret: str) -> bytes:
    """The proof key derived from the shared secret (never the secret itself)."""
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def origin_proof(key: bytes, value: bytes) -> str:
    return hmac.new(key, value, hashlib.sha256).hexdigest()


def http_origin_headers(key: bytes, value: bytes) -> dict[str, str]:
    """The headers the facade sends with a command's value."""
    return {ORIGIN_HEADER: ORIGIN_HTTP, PROOF_HEADER: origin_proof(key, value)}


def proven_origin(headers: Mapping[str, str], value: bytes, key: bytes | None) -> str:
    """`http` for a command the facade sent (its proof checks out), else `kafka`."""
    claimed = headers.get(ORIGIN_HEADER) == ORIGIN_HTTP
    if not claimed or key is None:
        return ORIGIN_KAFKA
    proof = headers.get(PROOF_HEADER, "")
    return ORIGIN_HTTP if hmac.compare_digest(proof, origin_proof(key, value)) else ORIGIN_KAFKA
