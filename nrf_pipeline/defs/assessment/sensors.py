"""The SQS sensor: one run per valid assessment message, acknowledged in two phases."""


import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG

from nrf_pipeline.defs.assessment.jobs import assessment_job
from nrf_pipeline.defs.assessment.ops import TAG_MESSAGE_ID, TAG_REFERENCE, TAG_SENT_AT, TAG_TRACE_ID
from nrf_pipeline.defs.resources import SqsResource
from nrf_pipeline.intake import SQS_SENSOR_NAME, Intake, PendingAcks
from nrf_pipeline.settings import get_settings

# Dagster cancels a sensor tick after 60 s; receiving stops well before that.
TICK_BUDGET_SECONDS = 20
MAX_MESSAGES_PER_TICK = 50


def _intake(sqs: SqsResource) -> Intake:
    settings = sqs.settings()
    if not settings.SQS_QUEUE_URL:
        raise dg.DagsterInvariantViolationError("SQS_QUEUE_URL is not set")
    return Intake(sqs.client(), settings.SQS_QUEUE_URL, settings.SQS_MAX_MESSAGES,
                  settings.SQS_WAIT_TIME_SECONDS, settings.SQS_VISIBILITY_TIMEOUT)


@dg.sensor(
    name=SQS_SENSOR_NAME,
    job=assessment_job,
    minimum_interval_seconds=get_settings().SQS_SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Receives assessment requests from SQS; deletes each message once its run exists.",
)
def sqs_assessment_sensor(context: dg.SensorEvaluationContext, sqs: SqsResource) -> dg.SensorResult:
    intake = _intake(sqs)
    acks = PendingAcks.from_cursor(context.cursor)

    def run_exists(run_key: str) -> bool:
        return bool(context.instance.get_run_ids(dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1))

    deleted = intake.acknowledge(acks, run_exists)
    received = intake.receive(acks, TICK_BUDGET_SECONDS, MAX_MESSAGES_PER_TICK)
    if deleted or received:
        context.log.info(f"acknowledged {deleted} message(s), received {len(received)} valid message(s)")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=item.run_key,
                tags={
                    TAG_REFERENCE: item.message.reference,
                    TAG_TRACE_ID: item.message.trace_id or "",
                    TAG_MESSAGE_ID: item.message_id,
                    TAG_SENT_AT: f"{item.sent_at:.3f}",
                },
            )
            for item in received
        ],
        cursor=acks.to_cursor(),
    )
