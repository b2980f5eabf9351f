"""Every setting the pipeline reads, by the environment variable names of platform.md §6.

One module, so that compose.yml, the Dockerfile and the tests can all check against it. Settings
are read when asked for (`get_settings()`), never at import time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import quote

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # Environment variables only: the code does not read .env files (platform.md §6).
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=True)

    PORT: int = 8085
    HOST: str = "0.0.0.0"
    ENVIRONMENT: str = "local"
    PYTHON_ENV: str = "development"
    SERVICE_VERSION: str = "0.1.0"
    AWS_REGION: str = "eu-west-2"

    # Database. NRF_DATABASE_URL (a full SQLAlchemy URL) overrides the DB_* parts, for the CLI.
    NRF_DATABASE_URL: str | None = None
    DB_HOST: str | None = None
    DB_PORT: int = 5432
    DB_DATABASE: str = "nrf_impact_assessment_service"
    DB_USER: str = "nrf_impact_assessment_service"
    DB_IAM_AUTHENTICATION: bool = False
    DB_LOCAL_PASSWORD: str = Field(default="", repr=False)
    DB_SSL_MODE: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    DB_CONNECT_TIMEOUT_SECONDS: int = 5
    TRUSTSTORE_RDS_ROOT_CA: str | None = Field(default=None, repr=False)

    # SQS
    SQS_QUEUE_URL: str | None = None
    SQS_ENDPOINT: str | None = None
    SQS_MAX_MESSAGES: int = Field(default=10, ge=1, le=10)
    SQS_WAIT_TIME_SECONDS: int = Field(default=5, ge=0, le=20)
    SQS_VISIBILITY_TIMEOUT: int = 300
    SQS_SENSOR_INTERVAL_SECONDS: int = 10

    # nrf-backend
    BACKEND_URL: str | None = None
    BACKEND_API_KEY: str | None = Field(default=None, repr=False)
    BACKEND_TIMEOUT_SECONDS: float = 30.0
    BACKEND_MAX_RETRIES: int = 3

    # GOV.UK Notify
    NOTIFY_API_KEY: str | None = Field(default=None, repr=False)
    NOTIFY_BASE_URL: str = "https://api.notifications.service.gov.uk"
    NOTIFY_APPLICANT_ENABLED: bool = False
    NOTIFY_TEMPLATE_ID_RESULT: str | None = None
    NOTIFY_SUPPORT_ENABLED: bool = True
    NOTIFY_TEMPLATE_ID_FAILURE: str | None = None
    NOTIFY_SUPPORT_EMAIL: str | None = Field(default=None, repr=False)
    NRF_SERVICE_URL: str | None = None

    # Methods and reference data
    NUTRIENT_METHOD_VERSION: str = "nrf-2026-04"
    GCN_METHOD_VERSION: str = "gcn-2025-11"
    REFERENCE_RETENTION_RELEASES: int = Field(default=3, ge=1)
    REFERENCE_SOURCE_DIR: str | None = None

    # /health
    HEALTH_DAEMON_MAX_AGE_SECONDS: int = 60
    HEALTH_SENSOR_TICK_MAX_AGE_SECONDS: int = 120

    LOG_CONFIG: str | None = None
    LOG_LEVEL: str = "INFO"
    ENABLE_METRICS: bool = False
    TRACING_HEADER: str = "x-cdp-request-id"

    @field_validator("BACKEND_URL")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def database_configured(self) -> bool:
        return bool(self.NRF_DATABASE_URL or self.DB_HOST)

    def database_url(self) -> str:
        """SQLAlchemy URL, always naming the psycopg2 driver (SQLAlchemy 2.1 would pick psycopg 3).

        With IAM authentication the password is injected per connection (nrf_pipeline.db.engine).
        """
        if self.NRF_DATABASE_URL:
            url = self.NRF_DATABASE_URL
            for prefix in ("postgresql://", "postgres://"):
                if url.startswith(prefix):
                    url = "postgresql+psycopg2://" + url[len(prefix):]
            return url
        if not self.DB_HOST:
            raise ValueError("no database configured: set DB_HOST (and DB_PORT, DB_DATABASE, DB_USER) or NRF_DATABASE_URL")
        password = "" if self.DB_IAM_AUTHENTICATION else self.DB_LOCAL_PASSWORD
        credentials = quote(self.DB_USER, safe="") + (f":{quote(password, safe='')}" if password else "")
        return f"postgresql+psycopg2://{credentials}@{self.DB_HOST}:{self.DB_PORT}/{self.DB_DATABASE}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
