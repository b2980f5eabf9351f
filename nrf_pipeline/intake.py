"""SQS intake with two-phase acknowledgement (contracts.md §1.4), free of Dagster.

Phase 1 (a tick): receive messages, validate them, and remember each valid message's receipt
handle under its run key in the `PendingAcks` cursor; the caller requests one run per run key.
Phase 2 (a later tick): delete every pending message whose run now exists.

So a crash at any point leaves the message on the queue (it is delivered again and maps to the same
run key, which Dagster does not start twice), and a message is deleted only when its run is safely
in run storage. Timing assumptions: the sensor ticks every SQS_SENSOR_INTERVAL_SECONDS (seconds),
far below the visibility timeout (300 s), so a receipt handle is still valid when phase 2 uses it;
a pending entry older than the visibility timeout is dropped, because SQS will deliver its message
again (with a new handle).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from nrf_pipeline import metrics
from nrf_pipeline.message import InvalidMessage, TriggerMessage, parse_message

log = logging.getLogger(__name__)

# What SQS answers for a receipt handle that is no longer valid (names differ between SQS and moto).
STALE_HANDLE_ERRORS = frozenset(
    {"ReceiptHandleIsInvalid", "AWS.SimpleQueueService.ReceiptHandleIsInvalid", "InvalidParameterValue"}
)

# The Dagster sensor that runs this intake; /health checks its ticks under this name.
SQS_SENSOR_NAME = "sqs_assessment_sensor"


@dataclass(frozen=True)
class Received:
    """A valid message, ready to become a run request."""

    run_key: str
    message_id: str
    message: TriggerMessage
    receive_count: int
    sent_at: float  # epoch seconds, for queue lag


@dataclass
class PendingAcks:
    """The sensor cursor: run key -> (receipt handle, when it was received)."""

    pending: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_cursor(cls, cursor: str | None) -> PendingAcks:
        return cls(**json.loads(cursor)) if cursor else cls()

    def to_cursor(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def remember(self, run_key: str, receipt_handle: str, now: float) -> None:
        # A redelivered message replaces the entry: only its newest receipt handle is valid.
        self.pending[run_key] = {"receipt_handle": receipt_handle, "received_at": now}


def run_key_for(reference: str, message_id: str) -> str:
    return f"{reference}:{message_id}"


class Intake:
    def __init__(self, sqs_client, queue_url: str, max_messages: int, wait_time_seconds: int,
                 visibility_timeout: int):
        self.sqs = sqs_client
        self.queue_url = queue_url
        self.max_messages = max_messages
        self.wait_time_seconds = wait_time_seconds
        self.visibility_timeout = visibility_timeout

    def acknowledge(self, acks: PendingAcks, run_exists: Callable[[str], bool], now: float | None = None) -> int:
        """Phase 2: delete the messages whose runs exist; forget entries SQS will redeliver anyway."""
        now = time.time() if now is None else now
        deleted = 0
        for run_key, entry in list(acks.pending.items()):
            if run_exists(run_key):
                if self._delete(run_key, entry["receipt_handle"]):
                    deleted += 1
                del acks.pending[run_key]
            elif now - entry["received_at"] > self.visibility_timeout:
                del acks.pending[run_key]
        return deleted

    def _delete(self, run_key: str, receipt_handle: str) -> bool:
        """Delete one message. A handle SQS no longer accepts (the message was received again, or
        moved to the DLQ) is dropped: the message comes back with a new handle, maps to the same
        run key, and is deleted then. Any other error fails the tick, which /health reports."""
        from botocore.exceptions import ClientError

        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in STALE_HANDLE_ERRORS:
                raise
            log.warning("sqs_receipt_handle_stale", extra={"run_key": run_key})
            return False

    def receive(self, acks: PendingAcks, budget_seconds: float, max_total: int) -> list[Received]:
        """Phase 1: receive until the queue is empty, `max_total` messages or the time budget.

        Invalid messages are logged (id, reason, receive count; never the body) and left alone:
        after maxReceiveCount receives the queue's redrive policy moves them to the DLQ.
        """
        deadline = time.monotonic() + budget_seconds
        received: list[Received] = []
        wait = self.wait_time_seconds
        while len(received) < max_total and time.monotonic() < deadline:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(self.max_messages, max_total - len(received)),
                WaitTimeSeconds=wait,
                AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            wait = 0  # drain what is already there without blocking again
            now = time.time()
            for raw in messages:
                item = self._validate(raw)
                if item is not None:
                    acks.remember(item.run_key, raw["ReceiptHandle"], now)
                    received.append(item)
        return received

    @staticmethod
    def _validate(raw: dict) -> Received | None:
        attributes = raw.get("Attributes", {})
        receive_count = int(attributes.get("ApproximateReceiveCount", "1"))
        try:
            message = parse_message(raw.get("Body", ""))
        except InvalidMessage as exc:
            log.warning("sqs_message_rejected", extra={
                "sqs_message_id": raw["MessageId"], "reason": exc.reason_code, "receive_count": receive_count,
            })
            metrics.message_rejected(exc.reason_code)
            return None
        if message.trace_id_ignored:
            log.warning("sqs_trace_id_ignored", extra={"sqs_message_id": raw["MessageId"]})
        return Received(
            run_key=run_key_for(message.reference, raw["MessageId"]),
            message_id=raw["MessageId"],
            message=message,
            receive_count=receive_count,
            sent_at=int(attributes.get("SentTimestamp", "0")) / 1000,
        )


def check_redrive_policy(sqs_client, queue_url: str) -> bool:
    """The platform owns the queue; without a redrive policy poison messages would cycle forever."""
    attributes = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    if "RedrivePolicy" not in attributes.get("Attributes", {}):
        log.error("sqs_queue_has_no_redrive_policy", extra={"queue_url": queue_url})
        return False
    return True
