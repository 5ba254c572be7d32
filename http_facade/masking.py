"""Phone masking for read responses (`13812345678` → `138****5678`); the rule itself is
`schemas.pii`'s, shared with the change events."""

from typing import Any

from schemas.pii import PHONE_FIELDS, mask_phone

__all__ = ["PHONE_FIELDS", "mask_phone", "masked"]


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
