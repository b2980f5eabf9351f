"""The /health HTTP server: a small process of its own on HOST:PORT (contracts.md §5).

A background thread recomputes the report every few seconds; requests only read the latest one, so
they answer in well under a millisecond whatever the database does. A report older than
MAX_REPORT_AGE_SECONDS (storage hanging, refresher stuck) is not served: the answer is then 503.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Imported here, before the server listens, not lazily by the refresher's first DagsterInstance:
# an import holds the GIL for a while and would delay the requests answered meanwhile.
import dagster_postgres  # noqa: F401
import sqlalchemy.dialects.postgresql.psycopg2  # noqa: F401
from dagster import DagsterInstance

from nrf_pipeline.health.checks import SQS_SENSOR_NAME, HealthReport, evaluate, storage_unavailable
from nrf_pipeline.settings import Settings

log = logging.getLogger(__name__)

REFRESH_INTERVAL_SECONDS = 3.0
# contracts.md §5: the result is cached for at most 10 s.
MAX_REPORT_AGE_SECONDS = 10.0


class HealthCache:
    """The latest report, refreshed by `run()` in a background thread."""

    def __init__(self, settings: Settings, sensor_name: str | None = SQS_SENSOR_NAME,
                 instance_factory: Callable[[], DagsterInstance] = DagsterInstance.get):
        self.settings = settings
        self.sensor_name = sensor_name
        self._instance_factory = instance_factory
        self._instance: DagsterInstance | None = None
        self._lock = threading.Lock()
        self._report: HealthReport | None = None
        self._computed_at = 0.0

    def current(self) -> HealthReport:
        with self._lock:
            report, computed_at = self._report, self._computed_at
        if report is None or time.monotonic() - computed_at > MAX_REPORT_AGE_SECONDS:
            return storage_unavailable(self.settings, self.sensor_name, time.time())
        return report

    def refresh(self) -> HealthReport:
        try:
            # Created lazily and kept: with a wrong database address the first creation fails, and
            # the next refresh tries again.
            if self._instance is None:
                self._instance = self._instance_factory()
            report = evaluate(self._instance, self.settings, self.sensor_name)
        except Exception as exc:  # noqa: BLE001 - the refresher must keep running
            log.warning("health: cannot open the Dagster instance (%s: %s)", type(exc).__name__, exc)
            report = storage_unavailable(self.settings, self.sensor_name, time.time())
        with self._lock:
            previous, self._report, self._computed_at = self._report, report, time.monotonic()
        if previous is None or previous.body.get("stale") != report.body.get("stale"):
            # Log changes of state only: a line every few seconds would drown the service's logs.
            log.info("health: %s%s", report.body["status"],
                     f" (stale: {', '.join(report.body['stale'])})" if "stale" in report.body else "")
        return report

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.refresh()
            stop.wait(REFRESH_INTERVAL_SECONDS)


def _handler(cache: HealthCache) -> type[BaseHTTPRequestHandler]:
    class HealthHandler(BaseHTTPRequestHandler):
        timeout = 5  # a client that never sends its request must not hold a thread forever

        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            if self.path.split("?", 1)[0] != "/health":
                self.send_error(404)
                return
            report = cache.current()
            # allow_nan=False: the body must never contain NaN or Infinity (contracts.md §5).
            payload = json.dumps(report.body, allow_nan=False).encode()
            self.send_response(report.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of http.server
            # /health is polled every few seconds by ECS: its requests are not access-logged.
            if not self.path.startswith("/health"):
                log.info("%s %s", self.address_string(), format % args)

    return HealthHandler


def make_server(cache: HealthCache, host: str, port: int) -> ThreadingHTTPServer:
    return ThreadingHTTPServer((host, port), _handler(cache))


def serve(settings: Settings, sensor_name: str | None = SQS_SENSOR_NAME) -> None:
    """Serve GET /health on HOST:PORT until SIGTERM or SIGINT."""
    # libpq's connect timeout bounds each attempt to reach a wrong or dead database address.
    os.environ.setdefault("PGCONNECT_TIMEOUT", str(settings.DB_CONNECT_TIMEOUT_SECONDS))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    cache = HealthCache(settings, sensor_name)
    stop = threading.Event()
    server = make_server(cache, settings.HOST, settings.PORT)
    threading.Thread(target=cache.run, args=(stop,), name="health-refresher", daemon=True).start()
    log.info("health: listening on %s:%d", settings.HOST, settings.PORT)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
