"""Warm median time of the GCN domain core on SiteBoundary_00001 (reference data already in memory).

Run from the repository root: `.venv/bin/python bench/bench_gcn_core.py [repeats]`. Targets for the
whole assessment including the database reads: ≤ 60 ms (survey) and ≤ 45 ms (no survey), warm.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nrf_pipeline.gcn.assessment import assess_gcn  # noqa: E402
from nrf_pipeline_tests.gcn.data import real_reference, real_sites, real_survey_ponds  # noqa: E402


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on a shared machine inflates the medians."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def timings_ms(run, repeats: int) -> list[float]:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 25
    sites, reference, survey = real_sites(), real_reference(), real_survey_ponds()
    print(f"load average {load_average()} (before)")
    routes = {
        "survey": lambda: assess_gcn(sites, "BENCH", reference, survey),
        "no-survey": lambda: assess_gcn(sites, "BENCH", reference, None),
    }
    for name, run in routes.items():
        times = timings_ms(run, repeats)
        # The minimum shows the cost without noise from other processes on a shared machine.
        median, fastest = statistics.median(times), min(times)
        print(f"{name:10s} median {median:6.1f} ms, min {fastest:6.1f} ms ({repeats} warm repeats)")
    print(f"load average {load_average()} (after)")


if __name__ == "__main__":
    main()
