"""Phone masking for read responses (`13812345678` → `138****5678`); the rule itself is
`schemas.pii`'s, shared with the change events."""

from typing import Any

from schemas.pii import PHONE_FIELDS, mask_phone

__all__ = ["PHONE_FIELDS", "mask_phone", "masked"]


def mask_phones(value: Any) -> Any:
    """`value` with every phone field at any depth masked (a parked event's
    `data.match.phone`, a command result's customer or contact)."""
    if isinstance(value, dict):
        return {
            key: mask_phone(item)
            if key in PHONE_FIELDS and isinstance(item, str) and item
            else mask_phones(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_phones(item) for item in value]
    return value


def masked(view: dict[str, Any], sees_pii: bool) -> dict[str, Any]:
    """The view with its phone fields masked, unless the caller may see PII."""
    if sees_pii:
        return view
    out = dict(view)
    for name in PHONE_FIELDS:
        value = out.get(name)
        if isinstance(value, str) and value:
            out[name] = mask_phone(value)
    return out
