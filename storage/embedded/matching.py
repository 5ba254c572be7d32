"""Which stored documents a filter matches, in what order, and what copy a read returns.

mongomock's public `filter_applies` decides every match; a plain comparison settles (or
refutes) top-level equality clauses first, so a query costs a dictionary look-up per
document instead of a run of mongomock's filter engine (~20 µs each). Sorting and
projecting are done here for the plain cases a list page uses; the rest goes to mongomock
(`collection.py`).
"""

import heapq
import operator
from typing import Any

from mongomock.filtering import filter_applies
from mongomock.helpers import patch_datetime_awareness_in_document

Document = dict[str, Any]

_MISSING = object()
_SCALARS = (str, int, float, bool)
_CONTAINERS = (list, dict)
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
REFUTED, CONFIRMED, UNDECIDED = 0, 1, 2


def clone(value: Any) -> Any:
    """A copy as mongomock stores and returns it: containers rebuilt, scalars shared
    (immutable), datetimes at millisecond precision in naive UTC."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _IMMUTABLE else clone(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _IMMUTABLE else clone(v) for v in value]
    if kind in _IMMUTABLE:
        return value
    return patch_datetime_awareness_in_document(value)  # datetimes and the rest


def _in_strings(value: Any) -> bool:
    """`{"$in": [str, ...]}` with at least one value."""
    if not (isinstance(value, dict) and set(value) == {"$in"}):
        return False
    values = value["$in"]
    return isinstance(values, list) and bool(values) and all(isinstance(v, str) for v in values)


def equality_checks(filter_: Any) -> list[tuple[str, Any]]:
    """Top-level `field: scalar` and `field: {"$in": [strings]}` clauses (also inside a
    top-level `$and`), which a plain comparison can refute without mongomock's engine."""
    checks: list[tuple[str, Any]] = []
    if not isinstance(filter_, dict):
        return checks
    for key, value in filter_.items():
        if key == "$and" and isinstance(value, list):
            for clause in value:
                checks += equality_checks(clause)
        elif key.startswith("$") or "." in key:
            continue
        elif isinstance(value, _SCALARS):
            checks.append((key, value))
        elif _in_strings(value):
            checks.insert(0, (key, frozenset(value["$in"])))
    return checks


def _verdict(doc: Document, checks: list[tuple[str, Any]]) -> int:
    """REFUTED when a clause certainly fails; CONFIRMED when every clause certainly holds
    (same-typed scalars: 1 == True in Python, not in MongoDB); else UNDECIDED. Arrays and
    sub-documents are left to mongomock (an array matches a scalar it contains)."""
    verdict = CONFIRMED
    for key, expected in checks:
        actual = doc.get(key, _MISSING)
        if type(actual) in _CONTAINERS:
            verdict = UNDECIDED
        elif type(expected) is frozenset:
            if actual not in expected:  # _MISSING is never in a set of strings
                return REFUTED
            if type(actual) is not str:
                verdict = UNDECIDED
        elif actual is _MISSING or actual != expected:
            return REFUTED
        elif type(actual) is not type(expected):
            verdict = UNDECIDED
    return verdict


def _clause_count(filter_: Any) -> int:
    """Clauses of a filter made of field clauses and non-empty `$and`s of such filters;
    -1 for any other shape."""
    if not isinstance(filter_, dict):
        return -1
    count = 0
    for key, value in filter_.items():
        if key != "$and":
            count += 1
            continue
        if not isinstance(value, list) or not value:
            return -1
        for clause in value:
            inner = _clause_count(clause)
            if inner < 0:
                return -1
            count += inner
    return count


def matcher(filter_: Any) -> Any:
    """`filter_applies(filter_, doc)` as a function of `doc`, plain comparisons first."""
    checks = equality_checks(filter_)
    settled = _clause_count(filter_) == len(checks)  # CONFIRMED then means a match

    def matches(doc: Document) -> bool:
        verdict = _verdict(doc, checks)
        if verdict == REFUTED:
            return False
        if verdict == CONFIRMED and settled:
            return True
        return bool(filter_applies(filter_, doc))

    return matches


def named_ids(filter_: Any) -> list[Any] | None:
    """The ids a filter's `_id` clause names, `id` or `{"$in": [ids]}` of scalars (without
    repeats, in order); None for any other clause or none."""
    wanted = filter_.get("_id", _MISSING) if isinstance(filter_, dict) else _MISSING
    if isinstance(wanted, _SCALARS):
        return [wanted]
    if not (isinstance(wanted, dict) and set(wanted) == {"$in"}):
        return None
    values = wanted["$in"]
    if isinstance(values, list) and all(isinstance(v, _SCALARS) for v in values):
        return list(dict.fromkeys(values))
    return None


def plain_projection(projection: Any) -> tuple[bool, dict[str, bool] | None]:
    """(True, fields kept) for an inclusion projection of top-level fields (`_id` kept
    unless excluded); (True, None) for none; (False, None) for anything else, which
    mongomock projects."""
    if projection is None:
        return True, None
    if type(projection) is not dict or not projection:
        return False, None
    kept = {"_id": True}
    for field, value in projection.items():
        if field.startswith("$") or "." in field or type(value) not in (int, bool):
            return False, None
        if field == "_id":
            kept["_id"] = bool(value)
        elif not value:
            return False, None  # an exclusion projection
        else:
            kept[field] = True
    if len(kept) == 1 and not kept["_id"]:
        return False, None  # `{"_id": 0}` alone excludes
    return True, {field: True for field, keep in kept.items() if keep}


def projected(doc: Document, kept: dict[str, bool] | None) -> Document:
    """A copy of `doc` with the kept fields only, in the document's order."""
    if kept is None:
        return clone(doc)
    return {field: clone(value) for field, value in doc.items() if field in kept}


_NULL, _NUMBER, _STRING = 1, 2, 3  # BSON comparison order of the types sorted here


def _bson_rank(value: Any) -> tuple[int, Any] | None:
    if value is None or value is _MISSING:
        return (_NULL, 0)
    if type(value) is str:
        return (_STRING, value)
    if type(value) in (int, float):
        return (_NUMBER, value)
    return None  # other types: leave the sort to mongomock


def sorted_page(
    docs: list[Document], sort: list[tuple[str, int]], skip: int, limit: int
) -> list[Document] | None:
    """The page of `docs` in `sort` order, or None when a sort value is not a null, number
    or string, or a key is dotted (mongomock then sorts)."""
    if any("." in field for field, _ in sort):
        return None
    end = skip + limit if limit else None
    fields = [field for field, _ in sort]
    directions = {direction < 0 for _, direction in sort}
    if len(directions) == 1 and all(type(doc.get(f)) is str for doc in docs for f in fields):
        # the usual list page (ISO times, ids): pick the first `end` from a heap
        key = operator.itemgetter(*fields)
        descending = directions.pop()
        if end is not None and end < len(docs):
            select = heapq.nlargest if descending else heapq.nsmallest
            return select(end, docs, key=key)[skip:]  # documented as sorted()[:n]
        return sorted(docs, key=key, reverse=descending)[skip:end]
    ordered = list(docs)
    for field, direction in reversed(sort):  # stable sorts, least significant key first
        keyed = []
        for doc in ordered:
            rank = _bson_rank(doc.get(field, _MISSING))
            if rank is None:
                return None
            keyed.append((rank, doc))
        keyed.sort(key=lambda pair: pair[0], reverse=direction < 0)
        ordered = [doc for _, doc in keyed]
    return ordered[skip:end]
