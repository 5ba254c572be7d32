"""Unique-index checks of the in-memory store as hash look-ups.

mongomock checks a unique index after each stored or changed document by running a
query for the document's key (its generic filter engine, ~50 µs even when the query is
narrowed by an index), which was the largest cost of an import. Here each unique index
keeps the ids holding each key, maintained like the field indexes, and a check is one
dict look-up. A document whose key fields hold an array or sub-document (a multikey
entry) is not keyed here: while a collection holds one, mongomock's own check decides.
"""

from collections.abc import Callable
from typing import Any

from mongomock.helpers import get_value_by_dot

Document = dict[str, Any]

MULTIKEY = object()  # a key this index cannot express: mongomock decides


def _comparable(value: Any) -> Any:
    """The value as a key: Python equality, as mongomock's own check compares (so 1, 1.0
    and True are one key there and here; MongoDB would keep `True` apart)."""
    try:
        hash(value)
    except TypeError:
        return MULTIKEY
    return value


class UniqueKeyIndex:
    """The ids holding each key of one unique index (`spec` as mongomock stores it)."""

    def __init__(
        self, spec: Document, documents: Any, covers: Callable[[Document], bool] | None
    ) -> None:
        """`covers` says whether a document is in a partial index (None: all are)."""
        self.spec = spec
        self._fields = [field for field, _ in spec["key"]]
        self._sparse = bool(spec.get("sparse"))
        self._covers = covers
        self._holders: dict[Any, dict[Any, None]] = {}
        self._key_of: dict[Any, Any] = {}  # id -> its key
        self._multikey: dict[Any, None] = {}
        for doc in list(documents.values()):
            self.add(doc)

    def key(self, doc: Document) -> Any:
        """The document's key; None when the index does not cover it; MULTIKEY."""
        if self._covers is not None and not self._covers(doc):
            return None
        values = []
        for field in self._fields:
            try:
                value = get_value_by_dot(doc, field)
            except KeyError:
                value = None  # as mongomock: a missing field is null
            if type(value) in (list, dict):
                return MULTIKEY
            comparable = _comparable(value)
            if comparable is MULTIKEY:
                return MULTIKEY
            values.append(comparable)
        if self._sparse and all(value is None for value in values):
            return None
        return tuple(values)

    def add(self, doc: Document) -> None:
        key = self.key(doc)
        doc_id = doc["_id"]
        if key is MULTIKEY:
            self._multikey[doc_id] = None
        elif key is not None:
            self._holders.setdefault(key, {})[doc_id] = None
        self._key_of[doc_id] = key

    def remove(self, doc_id: Any) -> None:
        key = self._key_of.pop(doc_id, None)
        if key is MULTIKEY:
            del self._multikey[doc_id]
        elif key is not None:
            holders = self._holders[key]
            del holders[doc_id]
            if not holders:
                del self._holders[key]

    def collides(self, doc: Document) -> bool | None:
        """Whether another document holds this document's key (which must be indexed
        already); None when a multikey entry anywhere leaves it to mongomock."""
        if self._multikey:
            return None
        key = self._key_of.get(doc["_id"])
        if key is None:
            return False
        return any(holder != doc["_id"] for holder in self._holders.get(key, ()))
