"""How phones and emails are masked where a reader may not see them: HTTP reads without
`customers.pii` (phones) and change events under `CRM_EVENT_PII=masked` (phones and
emails). Pure functions: the facade and the handlers share one rule."""

from typing import Any

PHONE_FIELDS = ("phone",)
EMAIL_FIELDS = ("email",)


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 characters; short numbers keep only the last 2."""
    if len(phone) >= 8:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(len(phone) - 2, 1) + phone[-2:]


def mask_email(email: str) -> str:
    """Keep the first character of the local part and the domain: `a***@example.com`."""
    local, at, domain = email.rpartition("@")
    if not at:
        return email[:1] + "***"
    return local[:1] + "***@" + domain


def masked_contacts(value: Any) -> Any:
    """`value` with every `phone` and `email` string in it masked, at any depth (a copy;
    `value` is left as it is)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, str) and item and key in PHONE_FIELDS:
                out[key] = mask_phone(item)
            elif isinstance(item, str) and item and key in EMAIL_FIELDS:
                out[key] = mask_email(item)
            else:
                out[key] = masked_contacts(item)
        return out
    if isinstance(value, list):
        return [masked_contacts(item) for item in value]
    return value
