"""Resources, defined once and injected by name into assets, ops and sensors."""

from __future__ import annotations

from functools import lru_cache

import dagster as dg
import sqlalchemy as sa

from nrf_pipeline.db.engine import create_engine
from nrf_pipeline.settings import Settings


@lru_cache(maxsize=4)
def _engine(url: str) -> sa.Engine:
    return create_engine(Settings())


class DatabaseResource(dg.ConfigurableResource):
    """The PostGIS database of the business schema `nrf`, configured from the DB_* variables."""

    def settings(self) -> Settings:
        return Settings()

    def engine(self) -> sa.Engine:
        # One engine (and pool) per process and database; run workers are separate processes.
        return _engine(self.settings().database_url())




class SqsResource(dg.ConfigurableResource):
    """The assessment queue (SQS_QUEUE_URL; SQS_ENDPOINT for the local moto server)."""

    def settings(self) -> Settings:
        return Settings()

    def client(self):
        import boto3

        settings = self.settings()
        return boto3.client("sqs", region_name=settings.AWS_REGION, endpoint_url=settings.SQS_ENDPOINT or None)


RESOURCES = {"database": DatabaseResource(), "sqs": SqsResource()}
