"""The assessment run's log lines, written like every other line of the service (platform.md §4.4,
contracts.md §7): through the process's logging configuration (ECS JSON in ECS), each with trace.id.

Dagster's default console logger writes its own plain-text format to stderr instead; the job
replaces it with `run_logger`.
"""

import logging

import dagster as dg

from nrf_pipeline.defs.assessment.ops import TAG_TRACE_ID
from nrf_pipeline.logging_setup import configure_logging

RUN_LOGGER = "nrf_pipeline.run"
# What Dagster attaches to each record it passes on: the whole event, the op's output metadata (the
# site geometry) included, which the ECS formatter would otherwise write into the line.
_DAGSTER_ATTRIBUTES = ("dagster_meta", "dagster_event", "dagster_event_batch_metadata")


class RunRecordFilter(logging.Filter):
    """trace.id from the run (its nrf/trace_id tag, else the run id, as the ops use), also on the
    records Dagster logs outside the ops (run and step start, failure); Dagster's attributes dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None)
        for name in _DAGSTER_ATTRIBUTES:
            record.__dict__.pop(name, None)
        if meta and not hasattr(record, "trace.id"):
            setattr(record, "trace.id", meta["job_tags"].get(TAG_TRACE_ID) or meta["run_id"])
        return True


@dg.logger(description="Run logs through the service's logging configuration, with trace.id.")
def run_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    # A run worker is a fresh process nobody configured; a process that set up logging itself (a
    # test, `dagster job execute` under a host's configuration) keeps its set-up.
    if not logging.getLogger().handlers:
        configure_logging()
    logger = logging.getLogger(RUN_LOGGER)
    if not any(isinstance(f, RunRecordFilter) for f in logger.filters):
        logger.addFilter(RunRecordFilter())
    return logger
