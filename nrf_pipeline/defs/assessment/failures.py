"""When an assessment run fails: record the failure and e-mail the support mailbox (contracts.md §4.3)."""


import dagster as dg
from dagster._core.storage.tags import ROOT_RUN_ID_TAG

from nrf_pipeline import metrics, store
from nrf_pipeline.assessment import now
from nrf_pipeline.defs.assessment.jobs import assessment_job
from nrf_pipeline.defs.assessment.ops import TAG_REFERENCE
from nrf_pipeline.defs.resources import DatabaseResource
from nrf_pipeline.notify import Notifier

DEFAULT_CODE, DEFAULT_TYPE = "assessment_error", "nutrient+gcn"


def failure_details(instance: dg.DagsterInstance, run_id: str) -> tuple[str, str, str]:
    """(error code, assessment type, summary) from the run's last step failure. The summary is the
    fixed text of an AssessmentError, never exception text (which may quote the input)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    for record in reversed(records):
        data = record.event_log_entry.dagster_event.step_failure_data
        failure = data.user_failure_data
        metadata = (failure.metadata if failure else None) or {}
        if "error_code" in metadata:
            code = metadata["error_code"].value
            kind = metadata["assessment_type"].value if "assessment_type" in metadata else DEFAULT_TYPE
            return code, kind, (failure.description or code).split(": ", 1)[-1]
    return DEFAULT_CODE, DEFAULT_TYPE, "the assessment failed unexpectedly; the run's logs have the details"


@dg.run_failure_sensor(
    name="assessment_failure_sensor",
    monitored_jobs=[assessment_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=5,
)
def assessment_failure_sensor(context: dg.RunFailureSensorContext, database: DatabaseResource) -> None:
    run = context.dagster_run
    code, kind, summary = failure_details(context.instance, run.run_id)
    metrics.assessment_failed(code)
    run_ids = [run.run_id, run.tags.get(ROOT_RUN_ID_TAG, run.run_id)]
    with database.engine().begin() as conn:
        assessment_id = store.record_failure(conn, run_ids, error_code=code, error_summary=summary)
    reference = run.tags.get(TAG_REFERENCE, "unknown")
    email = Notifier(database.settings()).send_support_failure(reference, run.run_id, kind, code, summary, now())
    if assessment_id is not None:
        with database.engine().begin() as conn:
            store.update(conn, assessment_id, support_email_status=email.status)
    context.log.info(f"assessment run {run.run_id} failed with {code}; support e-mail {email.status}")
