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


# The variant's hex digit from the digest's: its two top bits set to 10 (RFC 4122).
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _uuid5_text(sha1_digest: bytes) -> str:
    """The text form of the version-5 UUID made of a SHA-1 digest: its first 16 bytes in
    hex, with the version digit set to 5 and the variant bits to 10, written digit by
    digit (no bytearray to patch first: an import formats thousands)."""
    h = sha1_digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:]}"


def created_customer_id(tenant_id: str, command_id: str) -> str:
    """The id `customer.create` gives the customer it creates."""
    return derived_id(tenant_id, command_id, "customer")


def partition_key(tenant_id: str, customer_id: str) -> bytes:
    """`{tenantId}:{customerId}`: one customer's commands and events stay in order."""
    return f"{tenant_id}:{customer_id}".encode()
