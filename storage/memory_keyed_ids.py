"""Document ids grouped by a key each document yields: the one structure behind the
in-memory store's field indexes and unique indexes, kept current document by document.

A key one document holds (a unique key; a name; most keys of an index on a field that
tells documents apart) maps to that document's id itself, not to a set of one: an
import's 2000 new customers would otherwise make 2000 such sets in each index, each an
allocation that also brings the garbage collector's next pass closer. A second holder
turns the entry into an ordered set (a dict)."""

from collections.abc import Collection
from typing import Any

Document = dict[str, Any]
Holders = Any  # one id (never a dict: ids are hashable), or a dict of ids

APART = object()  # a key the grouping cannot express (an array, a sub-document): held apart
NO_KEY = object()  # the document yields no key: held nowhere


def held_by(holders: Holders) -> Collection[Any]:
    """The ids of a `by_key` entry, as a collection."""
    return holders if type(holders) is dict else (holders,)


class KeyedIds:
    """Ids by key (`by_key`: one id, or an ordered set of ids as a dict); `key` says which
    key a document yields."""

    def __init__(self) -> None:
        self.by_key: dict[Any, Holders] = {}
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
            self.hold(key, doc_id)
        self._key_of[doc_id] = key

    def hold(self, key: Any, doc_id: Any) -> None:
        """`doc_id` among the holders of `key`."""
        holders = self.by_key.get(key, NO_KEY)
        if holders is NO_KEY:
            self.by_key[key] = doc_id
        elif type(holders) is dict:
            holders[doc_id] = None  # not `setdefault`: it would build a dict every time
        elif holders != doc_id:
            self.by_key[key] = {holders: None, doc_id: None}

    def hold_all(self, key: Any, doc_ids: dict[Any, None]) -> None:
        """`hold(key, id)` of each of `doc_ids` (an ordered set), in one update."""
        holders = self.by_key.get(key, NO_KEY)
        if type(holders) is dict:
            holders.update(doc_ids)
        elif holders is NO_KEY:
            self.by_key[key] = doc_ids
        else:
            self.by_key[key] = {holders: None, **doc_ids}

    def remove(self, doc_id: Any) -> None:
        key = self._key_of.pop(doc_id, NO_KEY)
        if key is APART:
            del self.apart[doc_id]
        elif key is not NO_KEY:
            holders = self.by_key[key]
            if type(holders) is dict:
                del holders[doc_id]
                if not holders:
                    del self.by_key[key]
            else:
                del self.by_key[key]

    def key_held(self, doc_id: Any) -> Any:
        """The key the document is held under: a key, APART or NO_KEY."""
        return self._key_of.get(doc_id, NO_KEY)
