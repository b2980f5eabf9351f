"""The /health checks of contracts.md §5, computed from the Dagster instance storage.

Everything is read from storage (daemon heartbeats, sensor state and ticks), never from the daemon
process itself: the health server is a separate process so that busy runs cannot starve it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dagster import DagsterInstance
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from nrf_pipeline.intake import SQS_SENSOR_NAME
from nrf_pipeline.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "nrf-impact-assessment-service"
# The daemons whose heartbeats matter: the SQS sensor, run launching, and schedules (contracts.md §5).
DAEMON_TYPES = ("SENSOR", "QUEUED_RUN_COORDINATOR", "SCHEDULER")
# The sensor that consumes the trigger queue (nrf_pipeline/defs/assessment/sensors.py).
# A tick that ran without an error; FAILURE ticks do not count as the sensor working.
HEALTHY_TICK_STATUSES = [TickStatus.SUCCESS, TickStatus.SKIPPED]


@dataclass(frozen=True)
class HealthReport:
    status_code: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status_code == 200


def _age_check(timestamp: float | None, now: float, max_age: int) -> dict[str, Any]:
    # No timestamp (no heartbeat or tick yet) is an unknown age: null, and not healthy.
    if timestamp is None:
        return {"ok": False, "ageSeconds": None, "maxAgeSeconds": max_age}
    age = max(0.0, now - timestamp)  # clock skew between hosts must not give a negative age
    return {"ok": age < max_age, "ageSeconds": round(age, 1), "maxAgeSeconds": max_age}


def _latest_healthy_tick_timestamp(instance: DagsterInstance, sensor_name: str) -> tuple[bool, float | None]:
    """(running, timestamp of the latest SUCCESS/SKIPPED tick) of the sensor with this name.

    Looked up by name across every stored sensor state, so the check does not depend on the code
    location's origin id (which changes with the location name or the repository).
    """
    states = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
              if s.instigator_name == sensor_name]
    running = [s for s in states if s.is_running]
    latest = None
    for state in running:
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1,
                                   statuses=HEALTHY_TICK_STATUSES)
        if ticks and (latest is None or ticks[0].timestamp > latest):
            latest = ticks[0].timestamp
    return bool(running), latest


def evaluate(instance: DagsterInstance, settings: Settings, sensor_name: str | None = SQS_SENSOR_NAME,
             now: float | None = None) -> HealthReport:
    """Read the instance storage and build the /health report. `sensor_name=None` leaves the
    sensor check out (only for a code location without the SQS sensor)."""
    now = time.time() if now is None else now
    try:
        heartbeats = instance.get_daemon_heartbeats()
        sensor = _latest_healthy_tick_timestamp(instance, sensor_name) if sensor_name else None
    except Exception as exc:  # noqa: BLE001 - any storage failure is "storage did not answer"
        log.warning("health: instance storage did not answer (%s: %s)", type(exc).__name__, exc)
        return storage_unavailable(settings, sensor_name, now)

    checks: dict[str, dict[str, Any]] = {}
    for daemon_type in DAEMON_TYPES:
        heartbeat = heartbeats.get(daemon_type)
        checks[f"daemon:{daemon_type}"] = _age_check(heartbeat.timestamp if heartbeat else None, now,
                                                     settings.HEALTH_DAEMON_MAX_AGE_SECONDS)
    if sensor is not None:
        running, tick_timestamp = sensor
        check = _age_check(tick_timestamp, now, settings.HEALTH_SENSOR_TICK_MAX_AGE_SECONDS)
        checks[f"sensor:{sensor_name}"] = {**check, "ok": check["ok"] and running}
    checks["storage"] = {"ok": True}
    return _report(settings, checks, now)


def storage_unavailable(settings: Settings, sensor_name: str | None, now: float) -> HealthReport:
    """The report when storage did not answer: every age unknown, every check failing."""
    checks = {f"daemon:{t}": _age_check(None, now, settings.HEALTH_DAEMON_MAX_AGE_SECONDS) for t in DAEMON_TYPES}
    if sensor_name:
        checks[f"sensor:{sensor_name}"] = _age_check(None, now, settings.HEALTH_SENSOR_TICK_MAX_AGE_SECONDS)
    checks["storage"] = {"ok": False}
    return _report(settings, checks, now)


def _report(settings: Settings, checks: dict[str, dict[str, Any]], now: float) -> HealthReport:
    stale = [name for name, check in checks.items() if not check["ok"]]
    body: dict[str, Any] = {
        "status": "unavailable" if stale else "ok",
        "service": SERVICE,
        "version": settings.SERVICE_VERSION,
        "checkedAt": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "checks": checks,
    }
    if stale:
        body["stale"] = stale
    return HealthReport(503 if stale else 200, body)
