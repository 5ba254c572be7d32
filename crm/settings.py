"""Environment-only configuration (pydantic-settings), with loud failures on unsafe values."""

from functools import cached_property
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import Topics

MIN_SECRET_LENGTH = 32
# A fixed secret is fine for the embedded mode only: it never leaves this machine.
EMBEDDED_DEV_SECRET = "embedded-dev-secret-not-for-production-use"


class ConfigurationError(RuntimeError):
    """Start-up refused: the environment is unsafe or malformed."""


class Settings(BaseSettings):
    """Everything comes from the environment; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    kafka_url: str | None = None
    mongo_url: str | None = None
    mongo_db: str = "crm"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8001, ge=1, le=65535)
    jwt_secret: str | None = None
    reply_timeout_s: float = Field(default=5.0, gt=0, le=120)
    command_retries: int = Field(default=5, ge=0, le=50)
    retry_backoff_s: float = Field(default=0.05, ge=0, le=30)
    relay_interval_s: float = Field(default=0.2, gt=0, le=60)
    consumer_group: str = "crm-worker"
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    rate_limit_per_s: float = Field(default=0.0, ge=0)  # per tenant; 0 = off
    rate_limit_burst: int = Field(default=50, ge=1)

    topic_commands: str = "crm.commands"
    topic_integration_events: str = "crm.integration.events"
    topic_customer_events: str = "crm.customer-events"
    topic_commands_dlq: str = "crm.commands.dlq"

    @field_validator("kafka_url", "mongo_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_url in (None, "memory")

    @property
    def embedded_store(self) -> bool:
        return self.mongo_url in (None, "memory")

    @property
    def embedded(self) -> bool:
        return self.embedded_broker and self.embedded_store

    @cached_property
    def topics(self) -> Topics:
        return Topics(
            commands=self.topic_commands,
            integration_events=self.topic_integration_events,
            customer_events=self.topic_customer_events,
            commands_dlq=self.topic_commands_dlq,
        )

    @property
    def effective_jwt_secret(self) -> str:
        """The signing secret; the embedded mode falls back to a fixed dev secret."""
        if self.jwt_secret:
            return self.jwt_secret
        if self.embedded:
            return EMBEDDED_DEV_SECRET
        raise ConfigurationError("CRM_JWT_SECRET is required outside the embedded mode")

    def validate_for_production(self) -> None:
        """Refuse to start with a missing/short secret or malformed URLs outside embedded mode."""
        if not self.embedded and (not self.jwt_secret or len(self.jwt_secret) < MIN_SECRET_LENGTH):
            raise ConfigurationError(
                f"CRM_JWT_SECRET must be set to at least {MIN_SECRET_LENGTH} characters "
                "when Kafka or MongoDB is configured"
            )
        if self.mongo_url not in (None, "memory") and urlsplit(self.mongo_url).scheme not in (
            "mongodb",
            "mongodb+srv",
        ):
            raise ConfigurationError(
                f"CRM_MONGO_URL must be a mongodb:// or mongodb+srv:// URL or 'memory', "
                f"got {self.mongo_url!r}"
            )
        if not self.embedded_broker and self.kafka_url is not None:
            for server in self.kafka_url.split(","):
                host, _, port = server.strip().rpartition(":")
                if not host or not port.isdigit():
                    raise ConfigurationError(
                        f"CRM_KAFKA_URL must be host:port[,host:port...] or 'memory', "
                        f"got {self.kafka_url!r}"
                    )
