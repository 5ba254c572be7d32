"""CRM API list filters and `sort`: each list's query parameters as stored-field conditions.

Every filter is ANDed with the others; an absent (or blank) one does not narrow. A bad
value (an unknown `stage`, a malformed timestamp, a range whose start is after its end,
an unknown `sort` field) is a 400 naming the parameter, as is an unknown parameter
(`common.reject_unknown_query`).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query

from http_facade.crm_routes.common import MAX_ID, XUserId, invalid
from schemas.base import MAX_YEAR, MIN_YEAR, iso
from schemas.contracts import ContractStatus
from schemas.follow_ups import FollowUpMethod
from schemas.opportunities import MAX_AMOUNT, OpportunityStage
from storage import customers
from storage.documents import SortOrder, sort_order


@dataclass
class ListQuery:
    """What a list asks the store for: stored field → condition, and the order."""

    sort: SortOrder
    conditions: dict[str, Any] = field(default_factory=dict)


# Public sort field → stored field, per list. Default (no `sort`): newest first.
CONTACT_SORTS = {"name": "name", "createdAt": "createdAt", "updatedAt": "updatedAt"}
OPPORTUNITY_SORTS = {
    "name": "name",
    "amount": "amount",
    "createdAt": "createdAt",
    "updatedAt": "updatedAt",
}
FOLLOW_UP_SORTS = {"followedAt": "followedAt", "createdAt": "createdAt", "updatedAt": "updatedAt"}
CONTRACT_SORTS = {
    "contractNo": "contractNo",
    "amount": "amount",
    "signedAt": "signedAt",
    "createdAt": "createdAt",
}
PAYMENT_SORTS = {"paidAt": "paidAt", "amount": "amount", "createdAt": "createdAt"}


def _sort_doc(fields: dict[str, str]) -> str:
    return (
        f"order: one of {', '.join(fields)}; `-` first for descending (`-{next(iter(fields))}`)."
        " Default: newest first (createdAt descending)"
    )


def _order(fields: dict[str, str], sort: str | None) -> SortOrder:
    sort = sort.strip() if sort else None
    try:
        return sort_order(fields, sort or None)
    except KeyError:
        raise invalid(
            f"sort: unknown field {sort!r} (one of {', '.join(fields)}; `-` for descending)"
        ) from None


def _sort_query(fields: dict[str, str]) -> Any:
    return Query(max_length=64, description=_sort_doc(fields))


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _set(conditions: dict[str, Any], **values: Any) -> None:
    conditions.update({name: value for name, value in values.items() if value is not None})


# -- timestamps -----------------------------------------------------------------------------


def _moment(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise invalid(f"{name}: not an ISO-8601 date or timestamp") from None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise invalid(f"{name}: must lie in the years {MIN_YEAR}–{MAX_YEAR} (UTC)")
    return moment


def _is_day(value: str) -> bool:
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


def time_range(
    field_name: str, names: tuple[str, str], start: str | None, end: str | None
) -> dict[str, Any]:
    """`{field: {"$gte": ..., "$lt"/"$lte": ...}}` for an inclusive range of ISO dates or
    timestamps (a date alone: the whole UTC day, so `to=2026-11-30` includes that day)."""
    bounds: dict[str, str] = {}
    first = last = None
    if start is not None and start.strip():
        first = _moment(names[0], start)
        bounds["$gte"] = iso(first)
    if end is not None and end.strip():
        last = _moment(names[1], end)
        if _is_day(end) and last.year < MAX_YEAR:
            bounds["$lt"] = iso(last + timedelta(days=1))
        else:
            bounds["$lte"] = iso(last)
    if first is not None and last is not None and first > last:
        raise invalid(f"{names[0]} is after {names[1]}")
    return {field_name: bounds} if bounds else {}


# -- customers ------------------------------------------------------------------------------


async def customer_query(
    user_id: XUserId,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="case-insensitive substring of the name, company or email "
            "(full-width and half-width characters alike)",
        ),
    ] = None,
    phone: Annotated[
        str | None,
        Query(
            max_length=32,
            description="exact phone in any format: digits compared, a +86/0086 country "
            "code before 11 digits dropped",
        ),
    ] = None,
    email: Annotated[
        str | None, Query(max_length=254, description="exact email, case-insensitive")
    ] = None,
    tag: Annotated[str | None, Query(max_length=50, description="has this tag")] = None,
    owner_id: Annotated[
        str | None, Query(alias="ownerId", max_length=MAX_ID, description="owned by this user")
    ] = None,
    level: Annotated[str | None, Query(max_length=200, description="exact level")] = None,
    source: Annotated[str | None, Query(max_length=200, description="exact source")] = None,
    industry: Annotated[str | None, Query(max_length=200, description="exact industry")] = None,
    updated_since: Annotated[
        str | None,
        Query(
            alias="updatedSince",
            max_length=64,
            description="changed at or after this ISO-8601 timestamp",
        ),
    ] = None,
    sort: Annotated[str | None, _sort_query(customers.SORT_FIELDS)] = None,
) -> ListQuery:
    """The customer list's (and export's) filters. `X-User-Id` narrows as `ownerId` does
    (both given and different: nothing matches)."""
    query = ListQuery(_order(customers.SORT_FIELDS, sort))
    conditions = query.conditions
    owners = {owner for owner in (user_id, _text(owner_id)) if owner is not None}
    if owners:
        conditions["ownerId"] = owners.pop() if len(owners) == 1 else {"$in": []}
    if (text := _text(q)) is not None and (key := customers.search_key(text)):
        conditions["_search"] = customers.containing(key)
    if (number := _text(phone)) is not None:
        digits = customers.phone_key(number)
        if not digits:
            raise invalid("phone: holds no digits")
        conditions["_phoneKey"] = digits
    if (address := _text(email)) is not None:
        conditions["_emailKey"] = customers.email_key(address)
    _set(conditions, tags=_text(tag), level=_text(level), source=_text(source))
    _set(conditions, industry=_text(industry))
    if updated_since is not None and updated_since.strip():
        conditions["updatedAt"] = {"$gte": iso(_moment("updatedSince", updated_since))}
    return query


CustomerQuery = Annotated[ListQuery, Depends(customer_query)]


# -- contacts, opportunities, follow-ups, contracts, payments -------------------------------

CustomerFilter = Annotated[
    str | None, Query(alias="customerId", max_length=MAX_ID, description="only this customer's")
]


async def contact_query(
    customer_id: CustomerFilter = None,
    is_primary: Annotated[
        bool | None, Query(alias="isPrimary", description="only primary (or non-primary) ones")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="case-insensitive substring of the name")
    ] = None,
    sort: Annotated[str | None, _sort_query(CONTACT_SORTS)] = None,
) -> ListQuery:
    query = ListQuery(_order(CONTACT_SORTS, sort))
    _set(query.conditions, customerId=_text(customer_id), isPrimary=is_primary)
    if (text := _text(q)) is not None:
        query.conditions["name"] = {**customers.containing(text), "$options": "i"}
    return query


ContactQuery = Annotated[ListQuery, Depends(contact_query)]


async def opportunity_query(
    customer_id: CustomerFilter = None,
    stage: Annotated[OpportunityStage | None, Query(description="in this stage")] = None,
    min_amount: Annotated[
        float | None,
        Query(alias="minAmount", ge=0, le=MAX_AMOUNT, description="amount at least this"),
    ] = None,
    max_amount: Annotated[
        float | None,
        Query(alias="maxAmount", ge=0, le=MAX_AMOUNT, description="amount at most this"),
    ] = None,
    owner_id: Annotated[
        str | None, Query(alias="ownerId", max_length=MAX_ID, description="owned by this user")
    ] = None,
    sort: Annotated[str | None, _sort_query(OPPORTUNITY_SORTS)] = None,
) -> ListQuery:
    query = ListQuery(_order(OPPORTUNITY_SORTS, sort))
    stage_value = None if stage is None else stage.value
    _set(query.conditions, customerId=_text(customer_id), stage=stage_value)
    _set(query.conditions, ownerId=_text(owner_id))
    if min_amount is not None and max_amount is not None and min_amount > max_amount:
        raise invalid("minAmount is above maxAmount")
    amount = {"$gte": min_amount, "$lte": max_amount}
    amount = {op: bound for op, bound in amount.items() if bound is not None}
    if amount:
        query.conditions["amount"] = amount
    return query


OpportunityQuery = Annotated[ListQuery, Depends(opportunity_query)]


def _moment_query(alias: str, bound: str) -> Any:
    return Query(
        alias=alias,
        max_length=64,
        description=f"{bound} (inclusive): an ISO-8601 date (the whole UTC day) or timestamp",
    )


async def follow_up_query(
    customer_id: CustomerFilter = None,
    opportunity_id: Annotated[
        str | None,
        Query(alias="opportunityId", max_length=MAX_ID, description="only this opportunity's"),
    ] = None,
    method: Annotated[FollowUpMethod | None, Query(description="by this method")] = None,
    followed_from: Annotated[str | None, _moment_query("followedFrom", "from")] = None,
    followed_to: Annotated[str | None, _moment_query("followedTo", "to")] = None,
    sort: Annotated[str | None, _sort_query(FOLLOW_UP_SORTS)] = None,
) -> ListQuery:
    query = ListQuery(_order(FOLLOW_UP_SORTS, sort))
    method_value = None if method is None else method.value
    _set(query.conditions, customerId=_text(customer_id), opportunityId=_text(opportunity_id))
    _set(query.conditions, method=method_value)
    names = ("followedFrom", "followedTo")
    query.conditions.update(time_range("followedAt", names, followed_from, followed_to))
    return query


FollowUpQuery = Annotated[ListQuery, Depends(follow_up_query)]


async def contract_query(
    customer_id: CustomerFilter = None,
    status: Annotated[ContractStatus | None, Query(description="in this status")] = None,
    sort: Annotated[str | None, _sort_query(CONTRACT_SORTS)] = None,
) -> ListQuery:
    query = ListQuery(_order(CONTRACT_SORTS, sort))
    status_value = None if status is None else status.value
    _set(query.conditions, customerId=_text(customer_id), status=status_value)
    return query


ContractQuery = Annotated[ListQuery, Depends(contract_query)]


async def payment_query(
    contract_id: Annotated[
        str | None,
        Query(alias="contractId", max_length=MAX_ID, description="only this contract's"),
    ] = None,
    paid_from: Annotated[str | None, _moment_query("paidFrom", "from")] = None,
    paid_to: Annotated[str | None, _moment_query("paidTo", "to")] = None,
    sort: Annotated[str | None, _sort_query(PAYMENT_SORTS)] = None,
) -> ListQuery:
    query = ListQuery(_order(PAYMENT_SORTS, sort))
    _set(query.conditions, contractId=_text(contract_id))
    query.conditions.update(time_range("paidAt", ("paidFrom", "paidTo"), paid_from, paid_to))
    return query


PaymentQuery = Annotated[ListQuery, Depends(payment_query)]
