"""The SQS sensor and intake against queues of their own on the stack's moto server: a message
delivered twice, and a malformed message on its way to the dead-letter queue. No daemon: the sensor
function is evaluated tick by tick, so each delivery happens exactly when the test says."""

from __future__ import annotations

import json
import time

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG

from nrf_pipeline.defs.assessment.jobs import assessment_job
from nrf_pipeline.defs.assessment.sensors import sqs_assessment_sensor
from nrf_pipeline.defs.resources import SqsResource
from nrf_pipeline.intake import Intake, PendingAcks
from nrf_pipeline_tests.platform.test_logging_metrics import metrics_enabled  # noqa: F401 - a fixture


def queue_with_dlq(stack, name: str, visibility_timeout: int, max_receive_count: int) -> tuple[str, str]:
    """(queue URL, DLQ URL) of a new queue with its own redrive policy."""
    sqs = stack.moto.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{name}-deadletter")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receive_count)}
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": json.dumps(redrive)})["QueueUrl"]
    return url, dlq


def message_count(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_a_message_delivered_twice_maps_to_one_run_and_is_deleted_once(stack, monkeypatch):
    url, _ = queue_with_dlq(stack, "sensor-duplicate-delivery", visibility_timeout=300, max_receive_count=3)
    for key, value in {**stack.env(), "SQS_QUEUE_URL": url, "SQS_WAIT_TIME_SECONDS": "0"}.items():
        monkeypatch.setenv(key, value)
    sqs = stack.moto.client("sqs")
    message_id = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"reference": "NRL-200001"}))["MessageId"]

    with dg.instance_for_test() as instance:
        def tick(cursor: str | None) -> dg.SensorResult:
            context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"sqs": SqsResource()})
            return sqs_assessment_sensor(context)

        first = tick(None)
        (request,) = first.run_requests
        assert request.run_key == f"NRL-200001:{message_id}"
        # SQS delivers the message again before its run exists (at least once delivery).
        handle = json.loads(first.cursor)["pending"][request.run_key]["receipt_handle"]
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        second = tick(first.cursor)
        (again,) = second.run_requests
        assert again.run_key == request.run_key  # Dagster starts one run per run key
        assert message_count(sqs, url) == 1

        instance.create_run_for_job(assessment_job, run_config={}, tags={RUN_KEY_TAG: request.run_key})
        third = tick(second.cursor)  # deleted with the newest receipt handle
        assert third.run_requests == [] and json.loads(third.cursor)["pending"] == {}
        assert message_count(sqs, url) == 0


def test_a_malformed_message_goes_to_the_dlq_after_max_receive_count(stack, metrics_enabled, capsys, caplog):  # noqa: F811
    url, dlq = queue_with_dlq(stack, "intake-poison-message", visibility_timeout=1, max_receive_count=2)
    sqs = stack.moto.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    intake = Intake(sqs, url, max_messages=10, wait_time_seconds=0, visibility_timeout=1)
    acks = PendingAcks()

    deadline = time.monotonic() + 20
    while message_count(sqs, dlq) == 0 and time.monotonic() < deadline:
        assert intake.receive(acks, budget_seconds=1, max_total=10) == []
        time.sleep(1.2)  # past the visibility timeout: the message is visible again

    assert message_count(sqs, dlq) == 1 and message_count(sqs, url) == 0
    assert acks.pending == {}
    rejected = [r for r in caplog.records if r.getMessage() == "sqs_message_rejected"]
    assert [r.receive_count for r in rejected] == [1, 2]  # received maxReceiveCount times, then moved
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(m["MessageRejected"], m["Reason"]) for m in emf] == [(1, "not_json"), (1, "not_json")]


def test_a_stale_receipt_handle_never_blocks_the_sensor(stack):
    url, _ = queue_with_dlq(stack, "sensor-stale-handle", visibility_timeout=300, max_receive_count=3)
    sqs = stack.moto.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"reference": "NRL-200003"}))
    intake = Intake(sqs, url, max_messages=10, wait_time_seconds=0, visibility_timeout=300)
    acks = PendingAcks()
    (received,) = intake.receive(acks, budget_seconds=5, max_total=10)
    acks.remember("NRL-200004:gone", "a-handle-sqs-no-longer-accepts", time.time())

    assert intake.acknowledge(acks, run_exists=lambda run_key: True) == 1
    assert acks.pending == {}  # the stale entry is dropped; the valid one deleted
    assert message_count(sqs, url) == 0
