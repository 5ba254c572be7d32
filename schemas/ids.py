"""Deterministic ids: the same command always names the same new entities.

The facade uses this to key a create command by the customer it will create, and the
worker to create exactly that id on every delivery.
"""

import hashlib
import uuid
from collections.abc import Callable

ID_NAMESPACE = uuid.UUID("6f1c3c3e-2f4b-4a5e-9a31-5b0c1d2e3f40")
_NAMESPACE_BYTES = ID_NAMESPACE.bytes


def derived_id(*parts: str) -> str:
    """`str(uuid.uuid5(ID_NAMESPACE, ":".join(parts)))`, computed directly: an import
    derives thousands of ids, and building `UUID` objects cost more than the hashing."""
    return _uuid5_text(hashlib.sha1(_NAMESPACE_BYTES + ":".join(parts).encode()).digest())


def derived_ids(*parts: str) -> Callable[[str], str]:
    """`slot -> derived_id(*parts, slot)`, with the hash of the common part taken once
    (an import names 2000 customers of one tenant and command)."""
    common = hashlib.sha1(_NAMESPACE_BYTES + "".join(f"{part}:" for part in parts).encode())

    def derive(slot: str) -> str:
        digest = common.copy()
        digest.update(slot.encode())
        return _uuid5_text(digest.digest())

    return derive


def _uuid5_text(sha1_digest: bytes) -> str:
    """The text form of the version-5 UUID made of a SHA-1 digest."""
    digest = bytearray(sha1_digest[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def created_customer_id(tenant_id: str, command_id: str) -> str:
    """The id `customer.create` gives the customer it creates."""
    return derived_id(tenant_id, command_id, "customer")


def partition_key(tenant_id: str, customer_id: str) -> bytes:
    """`{tenantId}:{customerId}`: one customer's commands and events stay in order."""
    return f"{tenant_id}:{customer_id}".encode()
