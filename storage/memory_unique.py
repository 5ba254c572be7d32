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

from storage.memory_keyed_ids import APART, NO_KEY, KeyedIds

Document = dict[str, Any]


_SCALAR_KEYS = frozenset({str, int, float, bool, type(None)})  # hashable, never APART


def _comparable(value: Any) -> Any:
    """The value as a key: Python equality, as mongomock's own check compares (so 1, 1.0
    and True are one key there and here; MongoDB would keep `True` apart)."""
    try:
        hash(value)
    except TypeError:
        return APART
    return value


class UniqueKeyIndex(KeyedIds):
    """The ids holding each key of one unique index (`spec` as mongomock stores it).
    Documents held apart are multikey entries, which this index cannot check."""

    def __init__(
        self, spec: Document, documents: Any, covers: Callable[[Document], bool] | None
    ) -> None:
        """`covers` says whether a document is in a partial index (None: all are)."""
        super().__init__()
        self.spec = spec
        # (field, dotted): a plain field is read with one dict look-up; only a dotted
        # path needs mongomock's walk through sub-documents and arrays
        self._fields = [(field, "." in field) for field, _ in spec["key"]]
        self._sparse = bool(spec.get("sparse"))
        self._covers = covers
        for doc in list(documents.values()):
            self.add(doc)

    def key(self, doc: Document) -> Any:
        """The document's key; NO_KEY when the index does not cover it; APART."""
        if self._covers is not None and not self._covers(doc):
            return NO_KEY
        values = []
        for field, dotted in self._fields:
            if not dotted:
                value = doc.get(field)  # as mongomock: a missing field is null
            else:
                try:
                    value = get_value_by_dot(doc, field)
                except KeyError:
                    value = None
            if type(value) in _SCALAR_KEYS:  # the usual key: no call to tell what it is
                values.append(value)
                continue
            comparable = APART if type(value) in (list, dict) else _comparable(value)
            if comparable is APART:
                return APART
            values.append(comparable)
        if self._sparse and all(value is None for value in values):
            return NO_KEY
        return tuple(values)

    def collides(self, doc: Document) -> bool | None:
        """Whether another document holds this document's key (which must be indexed
        already); None when a multikey entry anywhere leaves it to mongomock."""
        if self.apart:
            return None
        doc_id = doc["_id"]
        key = self.key_held(doc_id)
        if key is NO_KEY:
            return False
        holders = self.by_key.get(key, NO_KEY)
        if type(holders) is dict:
            return len(holders) > 1 or doc_id not in holders  # two, or another one
        return holders is not NO_KEY and holders != doc_id
