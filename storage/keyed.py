"""Reading a document by its key, where older releases may have stored it under another.

A key built by `schemas.ids.keys_of` names up to two places: the key, and for a hashed key
the joined text an older release used. Neither place is trusted by itself: a document left
there by an older release may belong to another input whose joined text was the same, so
a document counts only if its own fields (tenant, command id, identity) say it is the one.
"""

from collections.abc import Callable

from pymongo.asynchronous.collection import AsyncCollection

from storage.database import Document

Owns = Callable[[Document], bool]


async def find_owned(
    collection: AsyncCollection[Document],
    keys: tuple[str, ...],
    owns: Owns,
    projection: Document | None = None,
) -> Document | None:
    """The first document under `keys` that `owns` accepts (None: there is none)."""
    for key in keys:
        if projection is None:
            doc = await collection.find_one({"_id": key})
        else:
            doc = await collection.find_one({"_id": key}, projection)
        if doc is not None and owns(doc):
            return doc
    return None


def of_command(tenant_id: str, command_id: str) -> Owns:
    """Accepts the documents of this command of this tenant."""

    def owns(doc: Document) -> bool:
        return doc.get("tenantId") == tenant_id and doc.get("commandId") == command_id

    return owns


# What `of_command` reads of a document: a projection must include it.
COMMAND_FIELDS = {"tenantId": 1, "commandId": 1}
