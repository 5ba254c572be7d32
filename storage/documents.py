"""How stored documents map to what readers see."""

from typing import Any

from storage.database import Document

# Stored-only fields: `_id` becomes `id`, the tenant is implied by the caller.
HIDDEN_FIELDS = frozenset({"tenantId"})


def public(doc: Document) -> dict[str, Any]:
    """The reader's view of a stored document: `id` instead of `_id`, no internal fields."""
    view: dict[str, Any] = {"id": doc["_id"]}
    view.update(
        (key, value)
        for key, value in doc.items()
        if not key.startswith("_") and key not in HIDDEN_FIELDS
    )
    return view


def alive(tenant_id: str, **conditions: Any) -> dict[str, Any]:
    """Filter for a tenant's documents that are not soft-deleted."""
    return {"tenantId": tenant_id, "_deleted": False, **conditions}
