"""API B (CRM v2) customer request bodies; the command payloads are in `schemas.customers`."""

from typing import Self

from pydantic import ConfigDict, model_validator
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


class ImportCustomersRequest(ImportCustomers):
    """`POST /customers/import`: 1–2000 items, each shaped like a `POST /customers` body."""

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
