"""CRM API contacts: request bodies and the `contact.*` command payloads built from them."""

from typing import Self

from pydantic import ConfigDict, model_validator

from schemas.base import CamelModel, Email, Id, Name, Phone, ShortText, StrictBoolean


class ContactFields(CamelModel):
    """Optional fields of a contact, common to create and update."""

    phone: Phone | None = None
    email: Email | None = None
    title: ShortText | None = None
    is_primary: StrictBoolean | None = None


class CreateContactRequest(ContactFields):
    """`POST /contacts`: the customer must exist in the caller's tenant."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customerId": "0b7c6a0e-3f0e-5a57-9a6e-6f1c3c3e2f4b",
                    "name": "张三",
                    "phone": "13812345678",
                    "email": "zhangsan@example.com",
                    "title": "采购经理",
                    "isPrimary": True,
                }
            ]
        }
    )

    customer_id: Id
    name: Name


class CreateContact(CreateContactRequest):
    """Payload of `contact.create` (the request body as is)."""


# Fields that always have a value: PATCH may change them but not null them.
_REQUIRED_ON_UPDATE = ("customer_id", "name", "is_primary")


class UpdateContactRequest(ContactFields):
    """`PATCH /contacts/{contact_id}`: only the fields present change; null clears one."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "销售总监", "isPrimary": True, "email": None}]}
    )

    customer_id: Id | None = None
    name: Name | None = None

    @model_validator(mode="after")
    def _required_fields_cannot_be_cleared(self) -> Self:
        for name in _REQUIRED_ON_UPDATE:
            if name in self.model_fields_set and getattr(self, name) is None:
                alias = type(self).model_fields[name].alias or name
                raise ValueError(f"{alias} cannot be null")
        return self


class UpdateContact(UpdateContactRequest):
    """Payload of `contact.update`."""

    contact_id: Id


class DeleteContact(CamelModel):
    """Payload of `contact.delete` (a soft delete)."""

    contact_id: Id
