"""Which use case handles which command type."""

from handlers.use_cases import (
    UseCase,
    contacts,
    contracts,
    customer_profile,
    customers,
    follow_ups,
    opportunities,
    payments,
)
from schemas.envelope import CommandType

USE_CASES: dict[CommandType, UseCase] = {
    **customers.USE_CASES,
    **customer_profile.USE_CASES,
    **contacts.USE_CASES,
    **opportunities.USE_CASES,
    **follow_ups.USE_CASES,
    **contracts.USE_CASES,
    **payments.USE_CASES,
}


class UnsupportedCommand(LookupError):
    """A command type the contract lists but this build does not handle (yet)."""


def use_case_for(command_type: CommandType) -> UseCase:
    try:
        return USE_CASES[command_type]
    except KeyError:
        raise UnsupportedCommand(f"command type {command_type.value!r} is not handled") from None
