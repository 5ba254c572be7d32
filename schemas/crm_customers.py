"""CRM API customer request bodies; the command payloads are in `schemas.customers`."""

import math
from typing import Any, Self

from pydantic import ConfigDict, field_validator, model_validator
from pydantic.config import JsonDict

from schemas.base import Name
from schemas.customers import CreateCustomer, CustomerFields, ImportCustomers

_CUSTOMER_EXAMPLE: JsonDict = {
    "name": "上海示例科技有限公司",
    "phone": "13812345678",
    "email": "contact@example.com",
    "company": "上海示例科技",
    "industry": "software",
    "level": "A",
    "source": "website",
    "address": "上海市浦东新区示例路 1 号",
    "remark": "key account",
    "tags": ["vip", "east"],
    "ownerId": "u1",
}


class CreateCustomerRequest(CreateCustomer):
    """`POST /customers`. `ownerId` defaults to `X-User-Id`, else the token's `sub`."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CUSTOMER_EXAMPLE]})


class UpdateCustomerRequest(CustomerFields):
    """`PATCH /customers/{customer_id}`: only the fields present change; null clears one."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"level": "B", "phone": "13900001111", "remark": None}]}
    )

    name: Name | None = None

    @model_validator(mode="after")
    def _name_cannot_be_cleared(self) -> Self:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null: a customer always has a name")
        return self


MAX_ITEM_DEPTH = 8  # a customer is an object of strings and one list of strings


def _plain(text: str) -> bool:
    return text.isascii() or _encodable(text)


def _encodable(text: str) -> bool:
    """UTF-8 has no encoding for a lone surrogate: the only strings that fail."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _sendable(items: list[Any]) -> str | None:
    """Why `items` cannot be sent on as a command's JSON, or None. Python's JSON parser
    accepts NaN/Infinity and lone UTF-16 surrogates (`"\ud800"`) that cannot be encoded
    again, and any nesting depth (the command would not serialize). Iterative, so a deep
    body cannot exhaust the stack here either."""
    pending: list[tuple[Any, int]] = []
    for item in items:
        # The usual item, an object of strings, is settled here: no walk through it.
        if type(item) is not dict or not all(
            type(value) is str and _plain(value) and _plain(key) for key, value in item.items()
        ):
            pending.append((item, 1))
    while pending:
        value, depth = pending.pop()
        if depth > MAX_ITEM_DEPTH:
            return f"items are nested deeper than {MAX_ITEM_DEPTH} levels"
        if isinstance(value, str):
            if not _plain(value):
                return "items hold a lone UTF-16 surrogate"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return "items hold NaN or Infinity"
        elif isinstance(value, dict):
            pending += [(key, depth + 1) for key in value]
            pending += [(item, depth + 1) for item in value.values()]
        elif isinstance(value, list):
            pending += [(item, depth + 1) for item in value]
    return None


class ImportCustomersRequest(ImportCustomers):
    """`POST /customers/import`: 1–2000 items, each shaped like a `POST /customers` body.

    Items are checked one by one by the worker (a bad one is reported `invalid`); here only
    that they are JSON the command can carry (finite numbers, no lone surrogates, nested at
    most 8 levels).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"name": "客户甲", "phone": "13812345678", "level": "A"},
                        {"name": "客户乙", "email": "b@example.com"},
                    ]
                }
            ]
        }
    )

    @field_validator("items")
    @classmethod
    def _items_can_be_sent(cls, items: list[Any]) -> list[Any]:
        problem = _sendable(items)
        if problem is not None:
            raise ValueError(problem)
        return items
