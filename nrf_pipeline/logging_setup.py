"""Logging for every process of the service (platform.md §4.4, contracts.md §7).

ECS JSON on stdout (`logging.json`) in containers, plain text (`logging-dev.json`) on a developer
machine. The filters below are referenced by both files, and so must stay importable in the
production image.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.config
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from nrf_pipeline.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
JSON_CONFIG = "logging.json"
DEV_CONFIG = "logging-dev.json"

# The trace id of the work in hand (the run's trace id, from x-cdp-request-id); set per run.
trace_id: ContextVar[str | None] = ContextVar("trace_id", default=None)


@contextlib.contextmanager
def trace_context(value: str | None) -> Iterator[None]:
    """Every record logged inside the block carries `trace.id` = value."""
    token = trace_id.set(value)
    try:
        yield
    finally:
        trace_id.reset(token)


class TraceIdFilter(logging.Filter):
    """Adds `trace.id`, which ecs_logging nests as {"trace": {"id": ...}}."""

    def filter(self, record: logging.LogRecord) -> bool:
        value = trace_id.get()
        if value and not hasattr(record, "trace.id"):
            setattr(record, "trace.id", value)
        return True


class HealthAccessFilter(logging.Filter):
    """Drops access-log lines of GET /health, which ECS polls every few seconds."""

    _access_line = re.compile(r"\b(GET|HEAD) /health\b")

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._access_line.search(record.getMessage())


# Secrets that must never reach a log line even if code passes them by mistake (contracts.md §7).
_REDACTIONS = [
    (re.compile(r"(?P<keep>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]+(:[^/\s@]*)?@"), r"\g<keep>***@"),  # URL user-info
    (re.compile(r"(?P<keep>X-Amz-(Signature|Credential|Security-Token)=)[^&\s]+"), r"\g<keep>***"),  # RDS IAM token
    (re.compile(r"(?P<keep>(x-api-key|authorization)['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+", re.IGNORECASE), r"\g<keep>***"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "***@***"),  # e-mail addresses
]


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactionFilter(logging.Filter):
    """A guard, not the policy: code must not log secrets, and this masks the ones that slip."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def config_path(settings: Settings) -> Path:
    """LOG_CONFIG if given; else JSON inside an ECS task (ECS_CONTAINER_METADATA_URI_V4 is set by
    ECS itself, so it is read here rather than being a setting), else the development format."""
    name = settings.LOG_CONFIG or (JSON_CONFIG if os.environ.get("ECS_CONTAINER_METADATA_URI_V4") else DEV_CONFIG)
    path = Path(name)
    # Relative names are looked up in the working directory (the image's WORKDIR), then the repository.
    return path if path.is_absolute() or path.exists() else REPO_ROOT / path


def load_config(path: Path, level: str) -> dict:
    config = json.loads(path.read_text())
    config.setdefault("root", {})["level"] = level.upper()
    return config


def configure_logging(settings: Settings | None = None) -> Path:
    settings = settings or Settings()
    path = config_path(settings)
    logging.config.dictConfig(load_config(path, settings.LOG_LEVEL))
    return path
