"""moto server on loopback: the SQS queue with its dead-letter queue, and an S3 bucket."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

import boto3

from nrf_pipeline.devstack.errors import DevstackError
from nrf_pipeline.devstack.processes import free_port, spawn, stop, wait_until

REGION = "eu-west-2"
QUEUE_NAME = "nrf-impact-assessment-requests"
DLQ_NAME = "nrf-impact-assessment-requests-deadletter"
BUCKET = "nrf-reference-data"
# The platform's queue settings (contracts.md §1.3).
VISIBILITY_TIMEOUT = 300
MAX_RECEIVE_COUNT = 3


class MotoServer:
    def __init__(self, visibility_timeout: int = VISIBILITY_TIMEOUT, max_receive_count: int = MAX_RECEIVE_COUNT):
        self.port: int | None = None
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self.queue_url: str | None = None
        self.dlq_url: str | None = None
        self._process = None
        self._dir: Path | None = None

    @property
    def running(self) -> bool:
        return self._process is not None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def start(self) -> None:
        if self.running:
            return
        server = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
        if not Path(server).exists():
            raise DevstackError("moto_server not found: run scripts/setup.sh (it installs the dev dependencies)")
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="nrf-moto-"))
        log = self._dir / "moto.log"
        self._process = spawn([server, "-H", "127.0.0.1", "-p", str(self.port)], log)
        wait_until(self._answers, 30, "moto server", log)
        self._create_resources()

    def stop(self) -> None:
        stop(self._process)
        self._process = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                return True
        except OSError:
            return False

    def _create_resources(self) -> None:
        sqs = self.client("sqs")
        self.dlq_url = sqs.create_queue(QueueName=DLQ_NAME)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(self.max_receive_count)}
        self.queue_url = sqs.create_queue(
            QueueName=QUEUE_NAME,
            Attributes={"VisibilityTimeout": str(self.visibility_timeout), "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        self.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
