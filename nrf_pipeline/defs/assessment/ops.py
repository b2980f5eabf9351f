"""The assessment job's ops: thin wrappers around nrf_pipeline.assessment, passing small dicts.

Permanent errors (AssessmentError other than backend_unavailable) fail the run at once; database
disconnects are retried by the retry policy; the backend client retries its own transient errors
(contracts.md §3.2) before giving up with backend_unavailable, which then fails the run for an
operator to re-execute.
"""


import time
from contextlib import contextmanager

import dagster as dg

from nrf_pipeline import assessment, metrics, store
from nrf_pipeline.backend import BackendClient
from nrf_pipeline.defs.resources import DatabaseResource
from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.gcn.methods import get_method as get_gcn_method
from nrf_pipeline.logging_setup import trace_context
from nrf_pipeline.notify import Notifier
from nrf_pipeline.nutrient.methods import get_method as get_nutrient_method
from nrf_pipeline.payload import RunInfo
from nrf_pipeline.quote import parse_quote

# Database disconnects are transient: retry the op with backoff.
DB_RETRY = dg.RetryPolicy(max_retries=3, delay=1, backoff=dg.Backoff.EXPONENTIAL)
TAG_REFERENCE, TAG_TRACE_ID, TAG_MESSAGE_ID = "nrf/reference", "nrf/trace_id", "nrf/sqs_message_id"
TAG_SENT_AT = "nrf/sqs_sent_at"  # when SQS received the message (epoch seconds), for the queue lag


@contextmanager
def failing_as(assessment_type: str):
    """Turn an AssessmentError into a Dagster Failure carrying the error code for the failure sensor."""
    try:
        yield
    except AssessmentError as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={"error_code": exc.code, "assessment_type": assessment_type},
            allow_retries=False,
        ) from exc


def _trace_id(context: dg.OpExecutionContext) -> str:
    return context.run.tags.get(TAG_TRACE_ID) or context.run_id


def _reference(context: dg.OpExecutionContext) -> str:
    reference = context.run.tags.get(TAG_REFERENCE)
    if not reference:
        raise dg.Failure("the run has no nrf/reference tag", metadata={"error_code": "config_invalid"},
                         allow_retries=False)
    return reference


def _queue_lag(context: dg.OpExecutionContext) -> float | None:
    """Seconds from SQS receiving the message to this run starting; None for a run the sensor did not
    start (a re-execution carries its parent's tags, and its lag would count the operator's delay)."""
    if context.run.parent_run_id:
        return None
    try:
        return time.time() - float(context.run.tags[TAG_SENT_AT])
    except (KeyError, ValueError):
        return None


@dg.op(retry_policy=DB_RETRY)
def start_assessment(context: dg.OpExecutionContext, database: DatabaseResource) -> dict:
    """Record the running assessment, then resolve the reference data release it will read."""
    with trace_context(_trace_id(context)):
        lag = _queue_lag(context)
        if lag is not None:
            metrics.queue_lag(lag)
        settings = database.settings()
        reference = _reference(context)
        with failing_as("intake"), database.engine().begin() as conn:
            assessment_id = store.start_assessment(
                conn, run_id=context.run_id, reference=reference, trace_id=_trace_id(context),
                sqs_message_id=context.run.tags.get(TAG_MESSAGE_ID), data_versions={}, release_id=None,
                nutrient_method_version=settings.NUTRIENT_METHOD_VERSION,
                gcn_method_version=settings.GCN_METHOD_VERSION,
            )
        with failing_as("intake"), database.engine().begin() as conn:
            get_nutrient_method(settings.NUTRIENT_METHOD_VERSION)
            get_gcn_method(settings.GCN_METHOD_VERSION)
            release = assessment.resolve_release(conn)
            store.update(conn, assessment_id, release_id=release.release_id, data_versions=release.versions)
        context.add_output_metadata({"release_id": release.release_id, "data_versions": release.versions})
        return {"assessment_id": str(assessment_id), "release_id": release.release_id,
                "versions": release.versions, "sha256": release.sha256}


@dg.op(retry_policy=DB_RETRY)
def assess_quote(context: dg.OpExecutionContext, database: DatabaseResource, started: dict) -> dict:
    """Fetch and validate the quote, run the nutrient and GCN methods, store the result."""
    with trace_context(_trace_id(context)):
        settings = database.settings()
        reference = _reference(context)
        with failing_as("intake"), BackendClient.from_settings(settings) as backend:
            quote = parse_quote(reference, backend.get_quote(reference, _trace_id(context)))
        context.add_output_metadata({"site_geometry": dg.MetadataValue.json(quote.to_dict()["boundary"]),
                                     "dwellings": quote.dwellings, "survey_ponds": quote.survey_ponds is not None})
        release = assessment.ActiveRelease(started["release_id"], started["versions"], started["sha256"])
        run = RunInfo(context.run_id, settings.SERVICE_VERSION, assessment.now(), _trace_id(context))
        started_at = time.monotonic()
        with failing_as("nutrient+gcn"), database.engine().begin() as conn:
            outcome = assessment.assess_quote(
                conn, quote, release, get_nutrient_method(settings.NUTRIENT_METHOD_VERSION),
                get_gcn_method(settings.GCN_METHOD_VERSION), run,
            )
            assessment.record(conn, started["assessment_id"], quote, outcome)
        seconds = time.monotonic() - started_at
        metrics.assessment_duration(seconds)
        context.add_output_metadata({**outcome.summary, "assessment_seconds": round(seconds, 3),
                                     "edps_sha256": outcome.edps_sha256})
        return {"payload": outcome.payload, "edps_sha256": outcome.edps_sha256}


@dg.op(retry_policy=DB_RETRY)
def send_results(context: dg.OpExecutionContext, database: DatabaseResource, started: dict, assessed: dict) -> dict:
    """PATCH the results to nrf-backend; only a successful PATCH marks the assessment succeeded."""
    with trace_context(_trace_id(context)):
        settings = database.settings()
        reference = _reference(context)
        with failing_as("intake"), BackendClient.from_settings(settings) as backend:
            status = backend.patch_results(reference, assessed["payload"], _trace_id(context))
        with database.engine().begin() as conn:
            store.record_callback(conn, started["assessment_id"], http_status=status, sent=True, run_id=context.run_id)
        metrics.assessment_succeeded()  # failures are counted by the run-failure sensor, which has the code
        context.add_output_metadata({"http_status": status, "outcome": assessed["payload"]["outcome"]})
        return {"http_status": status}


@dg.op(retry_policy=DB_RETRY)
def notify_applicant(context: dg.OpExecutionContext, database: DatabaseResource, started: dict, assessed: dict,
                     sent: dict) -> None:
    """The applicant e-mail, when enabled. A failed e-mail never fails the assessment (§4.4)."""
    with trace_context(_trace_id(context)):
        settings = database.settings()
        if not settings.NOTIFY_APPLICANT_ENABLED:
            status, notification_id = "disabled", None
        else:
            reference = _reference(context)
            try:
                with BackendClient.from_settings(settings) as backend:  # the address is read when needed, never stored
                    quote = parse_quote(reference, backend.get_quote(reference, _trace_id(context)))
            except AssessmentError as exc:
                context.log.error(f"applicant e-mail not sent: could not re-read the quote ({exc.code})")
                status, notification_id = "failed", None
            else:
                with database.engine().connect() as conn:
                    already = store.applicant_already_emailed(conn, reference, assessed["edps_sha256"])
                result = Notifier(settings).send_applicant_result(quote, assessed["payload"], already)
                status, notification_id = result.status, result.notification_id
        with database.engine().begin() as conn:
            store.update(conn, started["assessment_id"], applicant_email_status=status,
                         applicant_notification_id=notification_id)
        context.add_output_metadata({"applicant_email_status": status})
