"""API B use cases for payments (none yet: their command types answer as unsupported)."""

from handlers.use_cases import UseCase
from schemas.envelope import CommandType

USE_CASES: dict[CommandType, UseCase] = {}
