"""Phone masking for read responses (`13812345678` → `138****5678`)."""

from typing import Any

PHONE_FIELDS = ("phone",)


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 characters; short numbers keep only the last 2."""
    if len(phone) >= 8:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(len(phone) - 2, 1) + phone[-2:]


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
