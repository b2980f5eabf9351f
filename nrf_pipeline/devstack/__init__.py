"""The local stack the tests and the demo run on: real PostgreSQL+PostGIS, Liquibase, moto server.

Every service listens on a free loopback port chosen at start, belongs to the process that started
it, and is stopped by it. `LocalStack` is the one entry point.
"""

from nrf_pipeline.devstack.errors import DevstackError

__all__ = ["DevstackError", "LocalStack"]


def __getattr__(name: str):
    # Lazy: the CLI imports this package for DevstackError on every start, and the stack's
    # modules load boto3 and psycopg2, which a command using a configured database never needs.
    if name == "LocalStack":
        from nrf_pipeline.devstack.stack import LocalStack

        return LocalStack
    raise AttributeError(name)
