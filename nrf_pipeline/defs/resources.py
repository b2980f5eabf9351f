"""Resources, defined once and injected by name into assets, ops and sensors."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from nrf_pipeline.db.engine import create_engine
from nrf_pipeline.settings import Settings


class DatabaseResource(dg.ConfigurableResource):
    """The PostGIS database of the business schema `nrf`, configured from the DB_* variables."""

    def settings(self) -> Settings:
        return Settings()

    def engine(self) -> sa.Engine:
        # One engine per process: runs execute in their own subprocess.
        return _engine_for(self.settings().database_url())


_ENGINES: dict[str, sa.Engine] = {}


def _engine_for(url: str) -> sa.Engine:
    if url not in _ENGINES:
        _ENGINES[url] = create_engine(Settings())
    return _ENGINES[url]


RESOURCES = {"database": DatabaseResource()}
