"""Document ids grouped by a key each document yields: the one structure behind the
in-memory store's field indexes and unique indexes, kept current document by document."""

from typing import Any

Document = dict[str, Any]

APART = object()  # a key the grouping cannot express (an array, a sub-document): held apart
NO_KEY = object()  # the document yields no key: held nowhere


class KeyedIds:
    """Ids by key, as ordered sets (dicts); `key` says which key a document yields."""

    def __init__(self) -> None:
        self.by_key: dict[Any, dict[Any, None]] = {}
        self.apart: dict[Any, None] = {}
        self._key_of: dict[Any, Any] = {}  # id -> the key it is held under, or APART

    def key(self, doc: Document) -> Any:
        raise NotImplementedError

    def add(self, doc: Document) -> None:
        key = self.key(doc)
        doc_id = doc["_id"]
        if key is NO_KEY:
            return
        if key is APART:
            self.apart[doc_id] = None
        else:
            ids = self.by_key.get(key)
            if ids is None:
                self.by_key[key] = {doc_id: None}
            else:
                ids[doc_id] = None  # not `setdefault`: it would build a dict every time
        self._key_of[doc_id] = key

    def remove(self, doc_id: Any) -> None:
        key = self._key_of.pop(doc_id, NO_KEY)
        if key is APART:
            del self.apart[doc_id]
        elif key is not NO_KEY:
            ids = self.by_key[key]
            del ids[doc_id]
            if not ids:
                del self.by_key[key]

    def key_held(self, doc_id: Any) -> Any:
        """The key the document is held under: a key, APART or NO_KEY."""
        return self._key_of.get(doc_id, NO_KEY)
