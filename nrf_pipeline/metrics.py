"""CloudWatch embedded metrics (platform.md §5), gated by ENABLE_METRICS.

Each function writes one EMF record (the platform's AWS_EMF_* variables choose the namespace and the
sink). A metric is never worth failing an assessment for: the library raises spurious errors, so
every put and flush is wrapped and only logged.
"""

from __future__ import annotations

import asyncio
import logging

from nrf_pipeline.settings import get_settings

log = logging.getLogger(__name__)


def create_metrics_logger():
    # Imported on first use: the library pulls in aiohttp, which every run worker would otherwise
    # pay for at start.
    from aws_embedded_metrics.logger.metrics_logger_factory import create_metrics_logger as create

    return create()


def _put(name: str, value: float, unit: str, dimensions: dict[str, str] | None = None) -> None:
    if not get_settings().ENABLE_METRICS:
        return
    try:
        metrics = create_metrics_logger()
        if dimensions:
            metrics.put_dimensions(dimensions)
        metrics.put_metric(name, value, unit)
        # flush() is a coroutine; callers (ops, sensors) are synchronous.
        asyncio.run(metrics.flush())
    except Exception as exc:  # noqa: BLE001 - see the module docstring
        log.warning("metric %s not recorded (%s: %s)", name, type(exc).__name__, exc)


def assessment_duration(seconds: float) -> None:
    _put("AssessmentDuration", seconds, "Seconds")


def assessment_succeeded() -> None:
    _put("AssessmentSucceeded", 1, "Count")


def assessment_failed(error_code: str) -> None:
    _put("AssessmentFailed", 1, "Count", {"ErrorCode": error_code})


def message_rejected(reason: str) -> None:
    """`reason` is the error code of contracts.md §1.3 (body_too_large, not_json, ...)."""
    _put("MessageRejected", 1, "Count", {"Reason": reason})


def queue_lag(seconds: float) -> None:
    """Time from the message being sent to SQS to its run starting (SentTimestamp to now)."""
    _put("QueueLag", seconds, "Seconds")
