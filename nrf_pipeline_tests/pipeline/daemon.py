"""The environment of the dagster-daemon that the pipeline tests and bench/bench_pipeline.py start."""

import tempfile
from pathlib import Path

from nrf_pipeline.cli.demo import FAST_SENSOR

DAEMON_ENV = {
    **FAST_SENSOR,
    # Dagster evaluates sensors at most every 5 s; long-polling SQS for most of that time receives a
    # message as soon as it arrives instead of at the next evaluation.
    "SQS_WAIT_TIME_SECONDS": "4",
    # The production image ships compiled bytecode; a shell with PYTHONDONTWRITEBYTECODE would make
    # every run worker compile Dagster, pandas & co. afresh (about 3 s a run). A private cache
    # outside the repository gives the run workers the production start-up time.
    "PYTHONDONTWRITEBYTECODE": "",
    "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "nrf_pipeline_pycache"),
}
