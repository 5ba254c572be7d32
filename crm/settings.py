"""Environment-only configuration (pydantic-settings), with loud failures on unsafe values."""

import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.uri_parser import parse_uri

from schemas.topics import Topics

DAY_S = 86_400.0

MIN_SECRET_LENGTH = 32
EMBEDDED_KAFKA_HOST = "127.0.0.1"  # the embedded broker is never reachable from elsewhere
# A fixed secret is fine for the embedded mode only: it never leaves this machine.
EMBEDDED_DEV_SECRET = "embedded-dev-secret-not-for-production-use"


_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@", re.I
)


class ConfigurationError(RuntimeError):
    """Start-up refused: the environment is unsafe or malformed."""


def redacted_url(url: str | None) -> str:
    """A URL fit for logs and messages: any `user:password@` becomes `user:***@`."""
    if url is None:
        return "<unset>"
    return _URL_CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", url)


class Settings(BaseSettings):
    """Everything comes from the environment; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    kafka_url: str | None = None
    # Embedded mode: the Tansu broker the service starts (see crm/embedded_kafka.py).
    embedded_kafka_port: int = Field(default=9092, ge=1, le=65535)
    kafka_partitions: int = Field(default=12, ge=1, le=1000)  # topics the service creates
    # `tansu`: tune the Kafka clients for Tansu's differences from Apache Kafka (see
    # crm/kafka_tuning.py). The embedded mode always runs on Tansu.
    kafka_flavour: Literal["kafka", "tansu"] = "kafka"
    mongo_url: str | None = None
    mongo_db: str = "crm"
    # `crm run` on the embedded store keeps it under this directory (storage/embedded/snapshot.py):
    # written every `data_snapshot_s` while it changes and on shutdown, loaded at start-up.
    # Unset or empty: memory only. Relative paths are taken from the working directory.
    data_dir: Path | None = Path(".crm-data")
    data_snapshot_s: float = Field(default=5.0, gt=0, le=3600)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8001, ge=1, le=65535)
    jwt_secret: str | None = None
    reply_timeout_s: float = Field(default=5.0, gt=0, le=120)
    command_retries: int = Field(default=5, ge=0, le=50)
    retry_backoff_s: float = Field(default=0.05, ge=0, le=30)
    relay_interval_s: float = Field(default=0.2, gt=0, le=60)
    relay_linger_ms: float = Field(default=5.0, ge=0, le=1000)
    # Published journal entries older than this are deleted (0 = kept for ever); it must
    # be longer than the commands topic's retention (see storage/retention.py).
    journal_retention_days: float = Field(default=30.0, ge=0)
    consumer_group: str = "crm-worker"
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_message_bytes: int = Field(default=1024 * 1024, ge=1024)  # larger Kafka records → DLQ
    # Phones and emails in change events: masked as in HTTP reads, or clear (README).
    event_pii: Literal["masked", "clear"] = "masked"
    rate_limit_per_s: float = Field(default=0.0, ge=0)  # per tenant; 0 = off
    rate_limit_burst: int = Field(default=50, ge=1)

    # Start-up: each of MongoDB and Kafka is tried this many times, with exponential backoff
    # (startup_backoff_s, doubling, capped at startup_backoff_max_s); then the process exits.
    startup_attempts: int = Field(default=10, ge=1, le=1000)
    startup_backoff_s: float = Field(default=1.0, ge=0, le=60)
    startup_backoff_max_s: float = Field(default=30.0, ge=0, le=600)
    mongo_timeout_s: float = Field(default=5.0, gt=0, le=120)  # server selection timeout
    shutdown_timeout_s: float = Field(default=20.0, gt=0, le=600)  # in-flight work on SIGTERM
    # How often the worker measures its consumer groups' lag (`crm_consumer_lag`; 0 = never).
    consumer_lag_interval_s: float = Field(default=15.0, ge=0, le=3600)
    # The worker's own HTTP port for /health, /ready and /internal/metrics (0 = none).
    worker_http_port: int = Field(default=8002, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    topic_commands: str = "crm.commands"
    topic_integration_events: str = "crm.integration.events"
    topic_customer_events: str = "crm.customer-events"
    topic_commands_dlq: str = "crm.commands.dlq"

    @field_validator("kafka_url", "mongo_url", "data_dir", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", "event_pii", mode="before")
    @classmethod
    def _format_lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_url in (None, "memory")

    @property
    def kafka_servers(self) -> list[str]:
        """`CRM_KAFKA_URL` as the bootstrap list (a single comma-separated string handed to
        the broker would be taken as one host); the embedded broker's address when unset."""
        if self.embedded_broker:
            return [f"{EMBEDDED_KAFKA_HOST}:{self.embedded_kafka_port}"]
        return [server.strip() for server in (self.kafka_url or "").split(",") if server.strip()]

    @property
    def on_tansu(self) -> bool:
        return self.embedded_broker or self.kafka_flavour == "tansu"

    @property
    def retention_s(self) -> float:
        """`CRM_JOURNAL_RETENTION_DAYS` in seconds (0: kept for ever)."""
        return self.journal_retention_days * DAY_S

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
        """Refuse to start with a missing/short secret or malformed URLs outside embedded mode;
        in embedded mode a secret may be left unset (the dev secret), but one that is set
        must be as long as anywhere else."""
        if self.embedded and self.jwt_secret and len(self.jwt_secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"CRM_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters "
                "(unset it to use the embedded mode's dev secret)"
            )
        if not self.embedded:
            if not self.jwt_secret or len(self.jwt_secret) < MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    f"CRM_JWT_SECRET must be set to at least {MIN_SECRET_LENGTH} characters "
                    "when Kafka or MongoDB is configured"
                )
            if self.jwt_secret == EMBEDDED_DEV_SECRET:
                raise ConfigurationError(
                    "CRM_JWT_SECRET is the public embedded-mode dev secret; set your own"
                )
        if not self.embedded_store:
            _check_mongo_url(self.mongo_url or "")
        if not self.embedded_broker:
            _check_kafka_url(self.kafka_url or "")
        for name in (
            "topic_commands",
            "topic_integration_events",
            "topic_customer_events",
            "topic_commands_dlq",
            "consumer_group",
        ):
            value = getattr(self, name)
            if not _KAFKA_NAME.fullmatch(value):
                raise ConfigurationError(
                    f"CRM_{name.upper()} must be 1-249 characters of letters, digits, "
                    f"'.', '_' or '-', got {value!r}"
                )


_KAFKA_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


def _check_mongo_url(url: str) -> None:
    shown = redacted_url(url)
    scheme = urlsplit(url).scheme
    if scheme not in ("mongodb", "mongodb+srv"):
        raise ConfigurationError(
            f"CRM_MONGO_URL must be a mongodb:// or mongodb+srv:// URL or 'memory', got {shown!r}"
        )
    if scheme == "mongodb+srv":  # parsing it would resolve DNS; the host is checked instead
        if not urlsplit(url).hostname:
            raise ConfigurationError(f"CRM_MONGO_URL has no host: {shown!r}")
        return
    try:
        parse_uri(url)
    except Exception as exc:  # InvalidURI, ConfigurationError, ValueError (bad port)
        reason = redacted_url(str(exc))
        raise ConfigurationError(f"CRM_MONGO_URL is malformed ({reason}): {shown!r}") from None


def _check_kafka_url(url: str) -> None:
    for server in url.split(","):
        host, _, port = server.strip().rpartition(":")
        valid_host = bool(host) and not any(c in host for c in "/@ ") and host != "["
        if not valid_host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(
                f"CRM_KAFKA_URL must be host:port[,host:port...] or 'memory', got {url!r}"
            )
