"""/health against a real Dagster daemon and the stack's PostgreSQL (contracts.md §5).

Dagster writes a heartbeat per daemon type about every 30 s, so the health server here runs with
HEALTH_DAEMON_MAX_AGE_SECONDS=40 instead of 60: a killed daemon is reported within about 45 s (40 s
plus the cache), while a live one never looks stale. A smaller value (15 s) would flap.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import sys
import time

import dagster as dg
import pytest

from nrf_pipeline.definitions import defs
from nrf_pipeline.devstack.dagster import DagsterProcesses
from nrf_pipeline.devstack.processes import free_port, spawn, stop, wait_until
from nrf_pipeline.health.checks import SQS_SENSOR_NAME, evaluate
from nrf_pipeline.settings import Settings

DAEMON_MAX_AGE = 40
HAS_SQS_SENSOR = defs.get_repository_def().has_sensor_def(SQS_SENSOR_NAME)


def get_health(port: int) -> tuple[int, dict, float]:
    """(status, body, seconds taken) of one GET /health on a fresh connection."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    # parse_constant fails on NaN/Infinity: the body must never contain them.
    return response.status, json.loads(raw, parse_constant=lambda c: pytest.fail(f"{c} in body")), elapsed


def wait_for_status(port: int, status: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        code, body, _ = get_health(port)
        if code == status:
            return body
        last = body
        time.sleep(1)
    pytest.fail(f"/health did not answer {status} within {timeout:.0f} s; last body: {last}")


class HealthProcess:
    """`python -m nrf_pipeline.health`, as nrf_pipeline.main starts it, on a free loopback port."""

    def __init__(self, env: dict[str, str], log_dir, sensor_check: bool = HAS_SQS_SENSOR):
        self.port = free_port()
        args = [sys.executable, "-m", "nrf_pipeline.health"] + ([] if sensor_check else ["--no-sensor-check"])
        self.log = log_dir / f"health-{self.port}.log"
        self.process = spawn(args, self.log, env={**env, "HOST": "127.0.0.1", "PORT": str(self.port)})
        wait_until(self._listening, 30, "the health server", self.log)

    def _listening(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        stop(self.process)


@pytest.fixture
def dagster_processes(stack):
    processes = DagsterProcesses({**stack.env(), "HEALTH_DAEMON_MAX_AGE_SECONDS": str(DAEMON_MAX_AGE)})
    yield processes
    processes.stop()


def test_report_shape_without_heartbeats():
    """No heartbeat yet (start-up): 503, every age null, every daemon stale, storage answered."""
    with dg.DagsterInstance.local_temp() as instance:
        report = evaluate(instance, Settings(SERVICE_VERSION="1.4.0+3e2d1c0"), sensor_name=SQS_SENSOR_NAME)
    body = report.body
    assert report.status_code == 503
    assert body["status"] == "unavailable" and body["service"] == "nrf-impact-assessment-service"
    assert body["version"] == "1.4.0+3e2d1c0" and body["checkedAt"].endswith("Z")
    assert body["checks"]["daemon:SENSOR"] == {"ok": False, "ageSeconds": None, "maxAgeSeconds": 60}
    assert body["checks"][f"sensor:{SQS_SENSOR_NAME}"] == {"ok": False, "ageSeconds": None, "maxAgeSeconds": 120}
    assert body["checks"]["storage"] == {"ok": True}
    assert body["stale"] == ["daemon:SENSOR", "daemon:QUEUED_RUN_COORDINATOR", "daemon:SCHEDULER",
                             f"sensor:{SQS_SENSOR_NAME}"]
    json.dumps(body, allow_nan=False)


def test_health_follows_the_daemon(dagster_processes, tmp_path):
    dagster_processes.start_daemon()
    health = HealthProcess(dagster_processes.env, tmp_path)
    try:
        body = wait_for_status(health.port, 200, 60)
        assert body["status"] == "ok" and "stale" not in body
        assert {"daemon:SENSOR", "daemon:QUEUED_RUN_COORDINATOR", "daemon:SCHEDULER", "storage"} <= body["checks"].keys()
        assert body["checks"]["daemon:SENSOR"]["maxAgeSeconds"] == DAEMON_MAX_AGE

        timings = [get_health(health.port)[2] for _ in range(50)]
        print(f"/health latency: median {statistics.median(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms")
        assert max(timings) < 0.1

        # A crash, not a clean stop: SIGKILL the daemon and its code server.
        os.killpg(dagster_processes.daemon.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        body = wait_for_status(health.port, 503, 90)
        print(f"/health answered 503 {time.monotonic() - killed_at:.0f} s after the daemon was killed")
        assert "daemon:SENSOR" in body["stale"] and body["checks"]["storage"] == {"ok": True}

        dagster_processes.stop_daemon()
        dagster_processes.start_daemon()
        wait_for_status(health.port, 200, 60)
        assert not [line for line in health.log.read_text().splitlines() if "GET /health" in line]
    finally:
        health.stop()


@pytest.mark.parametrize("db_host", ["127.0.0.1", "10.255.255.1"], ids=["refused", "unroutable"])
def test_wrong_database_address_gives_503_quickly(stack, tmp_path, db_host):
    env = {**os.environ, **stack.env(), "DB_HOST": db_host, "DB_PORT": str(free_port()),
           "DAGSTER_HOME": str(DagsterProcesses(stack.env()).home)}
    health = HealthProcess(env, tmp_path)
    try:
        for _ in range(3):
            status, body, elapsed = get_health(health.port)
            assert status == 503 and elapsed < 0.1
            assert body["checks"]["storage"] == {"ok": False}
            assert body["checks"]["daemon:SENSOR"]["ageSeconds"] is None
            time.sleep(2)
    finally:
        health.stop()


def test_sensor_that_keeps_erroring_gives_503(stack, tmp_path):
    if not HAS_SQS_SENSOR:
        pytest.skip(f"{SQS_SENSOR_NAME} is not in the definitions yet")
    # SQS unreachable: every tick of the sensor fails, while the daemon itself stays alive.
    dead_sqs = f"http://127.0.0.1:{free_port()}"
    processes = DagsterProcesses({**stack.env(), "SQS_ENDPOINT": dead_sqs, "AWS_ENDPOINT_URL": dead_sqs,
                                  "HEALTH_DAEMON_MAX_AGE_SECONDS": str(DAEMON_MAX_AGE),
                                  "HEALTH_SENSOR_TICK_MAX_AGE_SECONDS": "30"})
    processes.start_daemon()
    health = HealthProcess(processes.env, tmp_path, sensor_check=True)
    try:
        body = wait_for_status(health.port, 503, 90)
        deadline = time.monotonic() + 90
        while not (body["checks"]["daemon:SENSOR"]["ok"] and body.get("stale") == [f"sensor:{SQS_SENSOR_NAME}"]):
            assert time.monotonic() < deadline, body
            time.sleep(1)
            _, body, _ = get_health(health.port)
    finally:
        health.stop()
        processes.stop()
