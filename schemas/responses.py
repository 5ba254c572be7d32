"""HTTP answer bodies the OpenAPI documents for every route: error envelopes, the customer
profile API's success envelope and the 202 of a write whose result is not ready yet.

Documentation models: the routes build these bodies as plain dicts (`http_facade.errors`,
`http_facade.app`); the fuzz tests check every answer against these schemas.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Exact(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileErrorDetail(_Exact):
    message: str
    code: str = Field(description="machine-readable error code, e.g. `CUSTOMER_NOT_FOUND`")


class ProfileApiError(_Exact):
    """Customer profile API: error: `{"success": false, "error": {"message", "code"}}`."""

    success: Literal[False]
    error: ProfileErrorDetail


class ProfileApiSuccess(_Exact):
    """Customer profile API: success: `{"success": true, "data": ...}`."""

    success: Literal[True]
    data: Any


class CrmApiError(_Exact):
    """CRM API error: `{"code", "message", "details", "requestId"}`."""

    code: str = Field(description="machine-readable error code, e.g. `VALIDATION_ERROR`")
    message: str
    details: str
    request_id: str = Field(alias="requestId")


class CommandAccepted(_Exact):
    """A write whose result was not ready within the reply timeout (202, `Location`)."""

    command_id: str = Field(alias="commandId")
    status: Literal["pending"]
    location: str = Field(description="the command-status resource to poll")


class ProfileCommandAccepted(_Exact):
    """The customer profile API's 202: the pending command in its success envelope."""

    success: Literal[True]
    data: CommandAccepted
