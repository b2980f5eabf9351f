"""The database a command works on: the configured one, or else a throwaway local stack."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nrf_pipeline.settings import Settings


@contextmanager
def database(settings: Settings, reference_dir: str | Path | None = None) -> Iterator:
    """An engine on the configured database (NRF_DATABASE_URL or DB_*), checked to answer; or, when
    none is configured, on a local PostGIS started here (with the reference set of `reference_dir`
    loaded and activated, when given) and stopped again afterwards."""
    from nrf_pipeline.db.engine import check_connection, create_engine

    if settings.database_configured:
        engine = create_engine(settings)
        try:
            check_connection(engine)
            yield engine
        finally:
            engine.dispose()
        return

    from nrf_pipeline.devstack import LocalStack

    loading = f" with the reference data of {reference_dir}" if reference_dir else ""
    print(f"nrf-pipeline: no database configured (NRF_DATABASE_URL / DB_HOST): starting a local PostGIS{loading}",
          file=sys.stderr)
    with LocalStack(sqs=False) as stack:
        engine = create_engine(Settings(**stack.env()))
        try:
            if reference_dir:
                from nrf_pipeline.reference import load_reference_set

                load_reference_set(engine, reference_dir)
            yield engine
        finally:
            engine.dispose()
