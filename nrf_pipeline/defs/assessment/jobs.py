"""The assessment job: one run per quote, in-process (its steps are sequential anyway, and a
multiprocess executor would add seconds to every assessment)."""

import dagster as dg

from nrf_pipeline.defs.assessment.ops import assess_quote, notify_applicant, send_results, start_assessment
from nrf_pipeline.defs.assessment.run_logging import run_logger


@dg.job(
    executor_def=dg.in_process_executor,
    # Dagster instantiates a job's own loggers only when the run config names them: this default
    # config does, for runs the sensor requests (with no config) and re-executions alike.
    logger_defs={"console": run_logger},
    config={"loggers": {"console": {}}},
    description="Assess one quote and send the results to nrf-backend.",
)
def assessment_job():
    started = start_assessment()
    assessed = assess_quote(started)
    notify_applicant(started, assessed, send_results(started, assessed))
