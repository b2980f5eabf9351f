"""End-to-end latency and throughput of the assessment pipeline on the local stack, as the demo runs it.

Run from the repository root: `.venv/bin/python bench/bench_pipeline.py [serial] [burst]` (defaults 30
and 200). A real dagster-daemon (SQS sensor, queued run coordinator, one run worker per run) against
PostGIS, moto SQS and the nrf-backend stub; every quote is the BnW_small sample.

1. `serial` assessments sent one after another, twice: with random pauses (arrivals independent of
   the daemon's 5 s sensor loop, as real ones are) and back to back (phase-locked to that loop):
   seconds from sending the message to the PATCH arriving at the stub (polled every 0.2 s).
   Targets: p50 ≤ 5 s, p95 ≤ 8 s.
2. `burst` messages enqueued at once: time until every reference has its PATCH, throughput, lost
   references (no PATCH) and duplicate PATCHes. Targets: ≥ 30 per minute, none lost, no duplicates.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nrf_pipeline.cli.demo import sample_quote, send_trigger, wait_for_results  # noqa: E402
from nrf_pipeline.db.engine import create_engine  # noqa: E402
from nrf_pipeline.devstack import LocalStack  # noqa: E402
from nrf_pipeline.devstack.dagster import DagsterProcesses  # noqa: E402
from nrf_pipeline.devstack.paths import DEFAULT_REFERENCE_DIR  # noqa: E402
from nrf_pipeline.reference import load_reference_set  # noqa: E402
from nrf_pipeline.settings import Settings  # noqa: E402
from nrf_pipeline_tests.pipeline.daemon import DAEMON_ENV  # noqa: E402

BURST_TIMEOUT = 30 * 60


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def patches(stack) -> Counter:
    """Successful PATCHes per reference, as the backend stub recorded them."""
    return Counter(r["path"].rsplit("/", 1)[-1] for r in stack.backend.control().requests()
                   if r["method"] == "PATCH" and r["status"] == 200)


def serial(stack, count: int, prefix: str, gaps: random.Random | None = None) -> list[float]:
    """Latencies of `count` assessments, one at a time. Without `gaps` each message is sent the moment
    the previous PATCH arrives, which locks the sends to the daemon's sensor loop (one evaluation
    every 5 s, Dagster's fixed minimum): each message then waits for the next evaluation. With
    `gaps`, a random pause of 0–5 s first, so arrivals are independent of the loop, as real ones are."""
    latencies = []
    for i in range(count):
        reference = f"NRL-{prefix}{i:05d}"
        if gaps is not None:
            time.sleep(gaps.uniform(0, 5))
        stack.backend.control().put_quote(sample_quote(reference))
        sent = time.monotonic()
        send_trigger(stack, reference)
        wait_for_results(stack, reference, 120)
        latencies.append(time.monotonic() - sent)
    return latencies


def burst(stack, count: int) -> tuple[float, int, int]:
    """(seconds until every reference was PATCHed, references lost, duplicate PATCHes)."""
    references = [f"NRL-4{i:05d}" for i in range(count)]
    for reference in references:
        stack.backend.control().put_quote(sample_quote(reference))
    sent = time.monotonic()
    for reference in references:
        send_trigger(stack, reference)
    deadline = sent + BURST_TIMEOUT
    while time.monotonic() < deadline:
        done = patches(stack)
        if all(done[r] for r in references):
            break
        time.sleep(1)
    elapsed = time.monotonic() - sent
    done = patches(stack)
    return elapsed, sum(1 for r in references if not done[r]), sum(max(0, done[r] - 1) for r in references)


def main(serial_count: int = 30, burst_count: int = 200) -> int:
    with LocalStack(backend=True, notify=True) as stack:
        engine = create_engine(Settings(**stack.env()))
        load_reference_set(engine, DEFAULT_REFERENCE_DIR, label="bench")
        engine.dispose()
        dagster = DagsterProcesses({**stack.env(), **DAEMON_ENV})
        try:
            dagster.start_daemon()
            # Warm-up, not timed: the daemon's code server starts and the first run fills caches.
            stack.backend.control().put_quote(sample_quote("NRL-299999"))
            send_trigger(stack, "NRL-299999")
            wait_for_results(stack, "NRL-299999", 180)

            for label, prefix, gaps in (("independent arrivals", "3", random.Random(20261130)),
                                        ("back to back", "5", None)):
                latencies = serial(stack, serial_count, prefix, gaps)
                print(f"serial, {label} ({serial_count}): p50 {statistics.median(latencies):.2f} s, "
                      f"p95 {percentile(latencies, 0.95):.2f} s, min {min(latencies):.2f} s, "
                      f"max {max(latencies):.2f} s")
            elapsed, lost, duplicates = burst(stack, burst_count)
            print(f"burst ({burst_count}): all PATCHed after {elapsed:.1f} s, "
                  f"{burst_count / elapsed * 60:.1f} per minute, {lost} lost, {duplicates} duplicate PATCHes")
            print(f"daemon log: {dagster.home / 'daemon.log'}")
        finally:
            dagster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:3])))
