"""Warm median time of the whole GCN assessment on SiteBoundary_00001: PostGIS read plus core.

Run from the repository root: `.venv/bin/python bench/bench_gcn.py [repeats]`. Uses the database of
NRF_DATABASE_URL / DB_HOST and its active release, or else starts a local PostGIS and loads the
shipped reference set. Targets (warm): ≤ 60 ms survey, ≤ 45 ms no survey. The warm-up run fills
the reader's geometry cache, so the timed runs read feature ids from PostGIS and geometries from
memory. For the core alone see bench_gcn_core.py.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_gcn_core import load_average, timings_ms  # noqa: E402

from nrf_pipeline.cli.database import database  # noqa: E402
from nrf_pipeline.gcn.assessment import extent  # noqa: E402
from nrf_pipeline.gcn.reader import assess_gcn_for_site, read_gcn_reference  # noqa: E402
from nrf_pipeline.reference import GCN_LAYERS, resolve_active_release  # noqa: E402
from nrf_pipeline.settings import get_settings  # noqa: E402
from nrf_pipeline_tests.gcn.data import real_sites, real_survey_ponds  # noqa: E402
from nrf_pipeline_tests.paths import REFERENCE_DIR  # noqa: E402


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 25
    sites, survey = real_sites(), real_survey_ponds()
    e = extent(sites)
    with database(get_settings(), REFERENCE_DIR) as engine, engine.connect() as conn:
        release = resolve_active_release(conn, GCN_LAYERS)
        print(f"load average {load_average()} (before)")
        runs = {
            "survey": lambda: assess_gcn_for_site(conn, release, sites, "BENCH", survey),
            "no-survey": lambda: assess_gcn_for_site(conn, release, sites, "BENCH", None),
            "read only (survey)": lambda: read_gcn_reference(conn, release, e, national_ponds=False),
            "read only (no-survey)": lambda: read_gcn_reference(conn, release, e),
        }
        for name, run in runs.items():
            times = timings_ms(run, repeats)
            # The minimum shows the cost without noise from other processes on a shared machine.
            median, fastest = statistics.median(times), min(times)
            print(f"{name:22s} median {median:6.1f} ms, min {fastest:6.1f} ms ({repeats} warm repeats)")
        print(f"load average {load_average()} (after)")


if __name__ == "__main__":
    main()
