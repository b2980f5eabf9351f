"""The local stack the tests and the demo run on: real PostgreSQL+PostGIS, Liquibase, moto server.

Every service listens on a free loopback port chosen at start, belongs to the process that started
it, and is stopped by it. `LocalStack` is the one entry point.
"""

from nrf_pipeline.devstack.errors import DevstackError
from nrf_pipeline.devstack.stack import LocalStack

__all__ = ["DevstackError", "LocalStack"]
