"""A unique index of the embedded store as a hash map: a check is one look-up, not a scan.

Each unique index keeps the ids of the documents holding each key, updated by every write
of the collection. A key is compared with Python equality, as mongomock's own check does
(1, 1.0 and True are one key there and here; MongoDB keeps True apart). A document whose
key fields hold an array or sub-document (a multikey entry) is not keyed here: while the
collection holds one, `collides` answers None and the collection runs mongomock's query.
"""

from collections.abc import Callable
from typing import Any

from mongomock.helpers import get_value_by_dot

Document = dict[str, Any]

MULTIKEY = object()  # a key this map cannot express: an array or a sub-document
NO_KEY = object()  # outside the index (sparse, or not covered by its partial filter)


class UniqueIndex:
    """The ids holding each key of one unique index; `spec` as `index_information` gives it."""

    def __init__(self, spec: Document, covers: Callable[[Document], bool] | None) -> None:
        """`covers` says whether a document is in a partial index (None: all are)."""
        self.spec = spec
        self._fields = [field for field, _ in spec["key"]]
        self._sparse = bool(spec.get("sparse"))
        self._covers = covers
        self._holders: dict[Any, dict[Any, None]] = {}
        self._key_of: dict[Any, Any] = {}  # id -> its key, or MULTIKEY
        self._multikey = 0  # how many documents are held as MULTIKEY

    def key(self, doc: Document) -> Any:
        if self._covers is not None and not self._covers(doc):
            return NO_KEY
        values = []
        for field in self._fields:
            try:
                value = get_value_by_dot(doc, field)
            except KeyError:
                value = None  # as mongomock: a missing field is null
            if isinstance(value, list | dict):
                return MULTIKEY
            try:
                hash(value)
            except TypeError:
                return MULTIKEY
            values.append(value)
        if self._sparse and all(value is None for value in values):
            return NO_KEY
        return tuple(values)

    def add(self, doc: Document) -> None:
        key = self.key(doc)
        if key is NO_KEY:
            return
        doc_id = doc["_id"]
        self._key_of[doc_id] = key
        if key is MULTIKEY:
            self._multikey += 1
        else:
            self._holders.setdefault(key, {})[doc_id] = None

    def remove(self, doc_id: Any) -> None:
        key = self._key_of.pop(doc_id, NO_KEY)
        if key is MULTIKEY:
            self._multikey -= 1
        elif key is not NO_KEY:
            holders = self._holders[key]
            del holders[doc_id]
            if not holders:
                del self._holders[key]

    def collides(self, doc_id: Any) -> bool | None:
        """Whether another document holds the key of `doc_id` (added already); None when a
        multikey entry anywhere leaves it to mongomock's semantics."""
        if self._multikey:
            return None
        key = self._key_of.get(doc_id, NO_KEY)
        return key is not NO_KEY and len(self._holders[key]) > 1

    def has_duplicates(self) -> bool | None:
        """Whether two documents hold one key (None: multikey entries, ask mongomock)."""
        if self._multikey:
            return None
        return any(len(holders) > 1 for holders in self._holders.values())
