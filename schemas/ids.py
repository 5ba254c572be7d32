"""Deterministic ids and stored keys: the same inputs always give the same key, and two
different inputs never do (docs/architecture.md, "Keys"), however the client-controlled
parts (tenant ids, command ids, system names, external ids) are spelt.

Every key had one form before: its parts joined by a separator (`{tenant}:{command}`,
`tenant|type|name|externalId`). That form is ambiguous only when a part before the last
holds the separator (tenant `a:b` with command `c` and tenant `a` with command `b:c` both
gave `a:b:c`). So a key keeps that *joined text* when it is unambiguous — no part but the
last contains the separator, and the text then splits back into the same parts — and is a
*hashed key* otherwise: `{kind}~` + the SHA-256 of the parts' length-prefixed encoding
(`encode_parts`), which holds no separator and so never equals any joined text. Keeping
the joined text where it was already unique means that every key stored and every id
handed out so far for such inputs stays what it was (no migration, no second read), and
that an older release running beside this one during an upgrade builds the same keys. Only
inputs that could collide get the new form; what older releases stored for them is read
under its old text too, but only with the document's own fields checked (`keys_of`), and
moved to its new key at start-up (`storage.key_migration`).
"""

import hashlib
import json
import uuid
from collections.abc import Callable

ID_NAMESPACE = uuid.UUID("6f1c3c3e-2f4b-4a5e-9a31-5b0c1d2e3f40")
# The namespace of ids derived from length-prefixed parts (inputs the joined text of
# which was ambiguous): a namespace of its own, so never the id of a joined text.
PARTS_NAMESPACE = uuid.UUID("17b23940-9007-4c80-9324-efb5004c666a")
_NAMESPACE_BYTES = ID_NAMESPACE.bytes
_PARTS_NAMESPACE_BYTES = PARTS_NAMESPACE.bytes

COMMAND_SEPARATOR = ":"
BINDING_SEPARATOR = "|"


def encode_parts(*parts: str) -> bytes:
    """Each part as `<byte length>:<UTF-8 bytes>`, one after the other: a prefix-free
    encoding, so two different sequences of strings never encode alike (a lone surrogate
    is kept as its own bytes, `surrogatepass`, rather than refused)."""
    encoded = [part.encode("utf-8", "surrogatepass") for part in parts]
    return b"".join(b"%d:%b" % (len(data), data) for data in encoded)


def hashed_key(kind: str, *parts: str) -> str:
    """`{kind}~{sha256 hex of encode_parts(kind, *parts)}`: fixed length, no separator."""
    return f"{kind}~{hashlib.sha256(encode_parts(kind, *parts)).hexdigest()}"


def joined_key(kind: str, separator: str, *parts: str) -> str:
    """The key of `parts`: their joined text when no part but the last holds the separator
    (then it is unambiguous, and it is the key older releases stored), else hashed."""
    if any(separator in part for part in parts[:-1]):
        return hashed_key(kind, *parts)
    return separator.join(parts)


def keys_of(kind: str, separator: str, *parts: str) -> tuple[str, ...]:
    """Where a document keyed by `parts` may be stored: under its key, and for a hashed
    key also under the joined text an older release stored it under. That text may be
    another input's key: a document found there is the one sought only if its own
    fields say so (the reader checks)."""
    key, text = joined_key(kind, separator, *parts), separator.join(parts)
    return (key,) if key == text else (key, text)


def command_key(tenant_id: str, command_id: str) -> str:
    """The `_id` of a command's journal entry, submission record and parked event: one
    per command id and tenant. `{tenantId}:{commandId}` for a tenant id without `:`."""
    return joined_key("command", COMMAND_SEPARATOR, tenant_id, command_id)


def command_keys(tenant_id: str, command_id: str) -> tuple[str, ...]:
    """`keys_of` a command: its key, then (tenant ids with `:`) its old joined text."""
    return keys_of("command", COMMAND_SEPARATOR, tenant_id, command_id)


# The command ids of integration events' commands (`handlers.integration_events`): no
# client's command may take one, or the two would share a journal entry (an HTTP request
# with a guessed `X-Request-ID` would suppress the event, or be answered with its result).
INTEGRATION_COMMAND_PREFIX = "integration:"


def event_command_id(source: str, event_id: str) -> str:
    """The command id of an event: deterministic in `(source, id)`, bounded, unambiguous."""
    name = json.dumps([source, event_id], separators=(",", ":"))
    return f"{INTEGRATION_COMMAND_PREFIX}{uuid.uuid5(ID_NAMESPACE, name)}"


def reserved_command_id(command_id: str) -> bool:
    """Whether the id is one only an integration event's command may have."""
    return command_id.startswith(INTEGRATION_COMMAND_PREFIX)


def derived_id(tenant_id: str, command_id: str, *slot: str) -> str:
    """The id of the entity (or change event) a command creates in `slot`: the same on
    every delivery, different for every other tenant, command or slot.

    For a tenant id without `:` it is what it always was, `uuid5(ID_NAMESPACE,
    "{tenant}:{command}:{slot}")` (computed directly: an import derives thousands, and
    building `UUID` objects cost more than the hashing). That text is unambiguous: the
    tenant ends at its first `:`, and the slot is ours — a word, or a word, `:` and a
    number (`contact`, `customer:3`, `event:0`); no slot ends in `:` followed by another
    slot — so the command id is what lies between. A new slot must keep that so
    (`tests/property/test_keys.py` lists them). A tenant id with `:` gets the version-5
    UUID of the length-prefixed parts in `PARTS_NAMESPACE`.
    """
    slot_text = COMMAND_SEPARATOR.join(slot)
    if COMMAND_SEPARATOR in tenant_id:
        return derived_ids(tenant_id, command_id)(slot_text)
    return legacy_derived_id(tenant_id, command_id, slot_text)


def derived_ids(tenant_id: str, command_id: str) -> Callable[[str], str]:
    """`slot -> derived_id(tenant_id, command_id, slot)`, with the hash of the common part
    taken once (an import names 2000 customers of one tenant and command)."""
    if COMMAND_SEPARATOR in tenant_id:
        common = hashlib.sha1(_PARTS_NAMESPACE_BYTES + encode_parts(tenant_id, command_id))

        def derive_parts(slot: str) -> str:
            digest = common.copy()
            digest.update(encode_parts(slot))
            return _uuid5_text(digest.digest())

        return derive_parts
    return legacy_derived_ids(tenant_id, command_id)


def legacy_derived_id(*parts: str) -> str:
    """`str(uuid.uuid5(ID_NAMESPACE, ":".join(parts)))`: how every release before this one
    derived ids, for any tenant. The change events of a journal entry such a release
    decided keep the ids it gave them (`handlers.outbox.event_id`)."""
    return _uuid5_text(hashlib.sha1(_NAMESPACE_BYTES + ":".join(parts).encode()).digest())


def legacy_derived_ids(*parts: str) -> Callable[[str], str]:
    """`slot -> legacy_derived_id(*parts, slot)`, the common part hashed once."""
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
    """`{tenantId}:{customerId}`: one customer's commands and events stay in order. A wire
    contract (docs/architecture.md, "Commands") that only orders records, never identifies
    anything: two keys that read alike share a partition, nothing more."""
    return f"{tenant_id}:{customer_id}".encode()
