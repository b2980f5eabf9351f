"""Reference loading benchmarks, on a throwaway local stack (PostGIS + Liquibase).

(a) the shipped set: load (forced, so every layer is really read and copied), check, release and
    activate; median of N runs; target < 15 s.
(b) a generated coefficient layer of 500,000+ parcels (a grid of jittered squares, fixed seed):
    load, check, release and activate; target < 120 s and peak RSS < 2 GB (this process; the
    GeoPackage is generated in a child process so that its memory is not counted).

Run from the repository root: `.venv/bin/python bench/bench_reference_load.py [repeats] [parcels]`.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEED = 20260730


def generate(path: Path, parcels: int) -> None:
    """A square grid of ~100 m parcels with jittered corners, fields as the real layer's."""
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng(SEED)
    side = int(np.ceil(np.sqrt(parcels)))
    index = np.arange(parcels)
    x = 500_000 + (index % side) * 100.0 + rng.uniform(0, 5, parcels)
    y = 200_000 + (index // side) * 100.0 + rng.uniform(0, 5, parcels)
    size = 90 + rng.uniform(0, 5, parcels)
    land_use = np.array(["ARABLE", "IMPROVED GRASSLAND", "WOODLAND", "RESIDENTIAL URBAN LAND"])
    frame = gpd.GeoDataFrame({
        "cromeid": [f"BEN{i:09d}" for i in index],
        "Land_use_cat": land_use[rng.integers(0, len(land_use), parcels)],
        "NN_Catchment": np.where(index % 3 == 0, "The Broads SAC", None),
        "SubCatchment": np.where(index % 5 == 0, "Bure", None),
        "LU_CurrNcoeff": rng.uniform(3, 29, parcels).round(2), "LU_CurrPcoeff": rng.uniform(0.2, 0.74, parcels).round(2),
        "N_ResiCoeff": rng.choice([12.75, 13.30, 13.85, 14.40], parcels), "P_ResiCoeff": rng.uniform(1.16, 1.40, parcels).round(2),
    }, geometry=shapely.multipolygons(shapely.box(x, y, x + size, y + size), indices=index), crs="EPSG:27700")
    frame.to_file(path, layer="NMSCoefficientLayer", driver="GPKG", engine="pyogrio")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    parcels = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000

    from nrf_pipeline.db.engine import create_engine
    from nrf_pipeline.devstack import LocalStack
    from nrf_pipeline.reference import activate_release, build_release, load_layer, load_reference_set, run_checks
    from nrf_pipeline.settings import Settings
    from nrf_pipeline_tests.paths import REFERENCE_DIR

    with tempfile.TemporaryDirectory(prefix="nrf-bench-") as tmp, LocalStack(sqs=False) as stack:
        big = Path(tmp) / "coefficient_layer_big.gpkg"
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate", str(big), str(parcels)], check=True)
        print(f"generated {parcels:,} parcels ({big.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
        engine = create_engine(Settings(**stack.env()))

        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            load_reference_set(engine, REFERENCE_DIR, force=True)
            times.append(time.perf_counter() - started)
        print(f"(a) shipped set load+check+activate: median {statistics.median(times):.2f} s over {repeats} "
              f"(min {min(times):.2f}, max {max(times):.2f}); target < 15 s")

        started = time.perf_counter()
        loaded = load_layer(engine, "coefficient_layer", str(big))
        load_s = time.perf_counter() - started
        results = run_checks(engine, "coefficient_layer", loaded.version)
        check_s = time.perf_counter() - started - load_s
        release = build_release(engine, {"coefficient_layer": loaded.version})
        assert release.approved, [c.message for c in release.checks if c.blocks]
        activate_release(engine, release.release_id, reason="benchmark")
        total = time.perf_counter() - started
        assert not any(r.blocks for r in results)
        print(f"(b) {loaded.row_count:,} parcels load+check+activate: {total:.1f} s (load {load_s:.1f}, checks {check_s:.1f}, "
              f"release+activate {total - load_s - check_s:.1f}); target < 120 s")
        print(f"peak RSS of this process: {peak_rss_mb():.0f} MB; target < 2048 MB")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--generate"]:
        generate(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
