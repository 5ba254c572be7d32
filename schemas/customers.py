"""Customer commands shared by both HTTP APIs (the customer profile API and the CRM API
serve the same customers)."""

from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from schemas.base import (
    NULL_IS_EMPTY,
    CamelModel,
    Email,
    Id,
    LongText,
    Name,
    Phone,
    ShortText,
    Tags,
)


class CustomerFields(CamelModel):
    """Optional descriptive fields of a customer, common to create and update."""

    phone: Phone | None = None
    email: Email | None = None
    company: ShortText | None = None
    industry: ShortText | None = None
    level: ShortText | None = None
    source: ShortText | None = None
    address: LongText | None = None
    remark: LongText | None = None
    tags: Tags = None
    owner_id: Id | None = None


class CreateCustomer(CustomerFields):
    """Payload of `customer.create`. `ownerId` defaults to the command's actor."""

    name: Name


class UpdateCustomer(CustomerFields):
    """Payload of `customer.update`: only the fields present change."""

    customer_id: Id
    name: Name | None = None

    @model_validator(mode="after")
    def _name_cannot_be_cleared(self) -> Self:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null: a customer always has a name")
        return self


class DeleteCustomer(CamelModel):
    """Payload of `customer.delete` (a soft delete: the name becomes free again)."""

    customer_id: Id


MAX_IMPORT_ITEMS = 2000


class ImportCustomers(CamelModel):
    """Payload of `customer.import`; items are validated one by one by the handler.

    Items are any JSON values, so one malformed item (not an object, no name, ...) is
    reported as an `invalid` item instead of failing the whole import.
    """

    items: Annotated[list[Any], Field(min_length=1, max_length=MAX_IMPORT_ITEMS), NULL_IS_EMPTY]
