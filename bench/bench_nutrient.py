"""Nutrient assessment timings: warm single site, warm 245-site batch, cold command, peak RSS.

Run from the repository root: `.venv/bin/python bench/bench_nutrient.py [repeats] [cold_repeats]`.
With NRF_DATABASE_URL set, that database's active release is used (load it first with
`nrf-pipeline reference load`); otherwise a local PostGIS is started and the shipped reference set
loaded (not timed). Targets: single site ≤ 25 ms warm, batch ≤ 0.6 s warm, cold command ≤ 1.5 s
(excluding the database start), peak RSS ≤ 300 MB.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nrf_pipeline.db.engine import create_engine  # noqa: E402
from nrf_pipeline.devstack import LocalStack  # noqa: E402
from nrf_pipeline.nutrient.assess import assess_sites  # noqa: E402
from nrf_pipeline.nutrient.methods import get_method  # noqa: E402
from nrf_pipeline.reference import load_reference_set  # noqa: E402
from nrf_pipeline.settings import Settings  # noqa: E402
from nrf_pipeline.sites import read_sites  # noqa: E402
from nrf_pipeline_tests.paths import INPUTS_DIR, REFERENCE_DIR  # noqa: E402

SMALL = INPUTS_DIR / "nutrients" / "BnW_small_under_1_hectare.zip"
BNW = INPUTS_DIR / "nutrients" / "BnW_cleaned_110925"
CONSOLE_SCRIPT = Path(sys.executable).with_name("nrf-pipeline")
# The production image compiles bytecode (`uv sync --compile-bytecode`); a development shell may set
# PYTHONDONTWRITEBYTECODE, and then every cold start recompiles pandas & co. (about 3 s more). The
# commands therefore run with a private bytecode cache, filled by the first, discarded, run.
PYCACHE = Path(tempfile.gettempdir()) / "bench_nutrient_pycache"


def timings_ms(run, repeats: int) -> list[float]:
    run()  # warm-up: connection pool, lookups cache, PostgreSQL buffers
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


# The nutrient path of the command without the `nrf_pipeline.cli` package, whose __init__ imports
# every command module (Dagster, boto3, ...): the floor the command would reach with lazy imports.
NUTRIENT_PATH_ONLY = """
import sys
from nrf_pipeline.db.engine import create_engine
from nrf_pipeline.nutrient.assess import assess_sites
from nrf_pipeline.nutrient.methods import get_method
from nrf_pipeline.nutrient.output import write_csv
from nrf_pipeline.settings import get_settings
from nrf_pipeline.sites import read_sites
sites, _ = read_sites(sys.argv[1])
write_csv(assess_sites(create_engine(get_settings()), sites, get_method("nrf-2026-04")).kept, sys.argv[2])
"""


def command(database_url: str, *args, argv: list[str] | None = None) -> tuple[float, float, int]:
    """Wall time (ms), CPU time (ms) and peak RSS (KiB) of one `nrf-pipeline assess nutrient`
    process. On a busy machine the CPU time is the better estimate of the wall time when idle."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"NRF_DATABASE_URL": database_url, "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    argv = argv or [str(CONSOLE_SCRIPT), "assess", "nutrient"]
    start = time.perf_counter()
    process = subprocess.Popen(
        [*argv, *map(str, args)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = (time.perf_counter() - start) * 1000.0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(process.stderr.read().decode())
    process.stderr.close()
    return elapsed, (usage.ru_utime + usage.ru_stime) * 1000.0, usage.ru_maxrss


def report(name: str, times: list[float], target_ms: float) -> None:
    # The minimum shows the cost without noise from other processes on a shared machine.
    median = statistics.median(times)
    verdict = "ok" if median <= target_ms else "OVER"
    print(f"{name:<34} median {median:8.1f} ms  min {min(times):8.1f} ms  "
          f"(n={len(times)}, target {target_ms:g} ms: {verdict})")


@contextlib.contextmanager
def database():
    """(engine, url) of NRF_DATABASE_URL, or of a local stack with the shipped reference set."""
    if os.environ.get("NRF_DATABASE_URL"):
        engine = create_engine(Settings())
        yield engine, os.environ["NRF_DATABASE_URL"]
        engine.dispose()
        return
    with LocalStack(sqs=False) as stack:
        engine = create_engine(Settings(**stack.env()))
        load_reference_set(engine, REFERENCE_DIR)
        yield engine, engine.url.render_as_string(hide_password=False)
        engine.dispose()


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    cold_repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    method = get_method("nrf-2026-04")
    small, _ = read_sites(SMALL)
    batch, _ = read_sites(BNW)
    with database() as (engine, url):
        # As the pipeline calls it: resolve the active release, measure, calculate.
        report("single site, warm", timings_ms(lambda: assess_sites(engine, small, method), repeats), 25)
        report("245-site batch, warm", timings_ms(lambda: assess_sites(engine, batch, method), repeats), 600)
        out = Path("/tmp/bench_nutrient.csv")
        cold = [command(url, SMALL, "-o", out) for _ in range(cold_repeats + 1)][1:]
        floor = [command(url, SMALL, out, argv=[sys.executable, "-c", NUTRIENT_PATH_ONLY])
                 for _ in range(cold_repeats)]
        cold_batch = [command(url, BNW, "-o", out) for _ in range(3)]
        for name, runs, target in (("cold command, single site", cold, 1500),
                                   ("  nutrient path only (no cli pkg)", floor, 1500),
                                   ("cold command, 245-site batch", cold_batch, 1500 + 600)):
            report(name, [wall for wall, _, _ in runs], target)
            report("  (CPU time)", [cpu for _, cpu, _ in runs], target)
        peak = max(rss for _, _, rss in cold + cold_batch)
        print(f"{'peak RSS of the command':<34} {peak / 1024:8.1f} MiB (target 300 MB)")
    print(f"{'peak RSS of this process':<34} {_self_rss_mib():8.1f} MiB")


def _self_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
