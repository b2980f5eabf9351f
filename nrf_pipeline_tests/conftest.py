"""Session fixtures: one real local stack (PostGIS with the Liquibase schema, moto) for the suite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from nrf_pipeline.devstack import LocalStack
from nrf_pipeline.settings import Settings


@pytest.fixture(scope="session")
def stack():
    with LocalStack(backend=True, notify=True) as local_stack:
        yield local_stack


@pytest.fixture(scope="session")
def stack_settings(stack) -> Settings:
    """Settings as the application sees them: connected as the app role."""
    return Settings(**stack.env())


@pytest.fixture(scope="session")
def app_engine(stack_settings):
    from nrf_pipeline.db.engine import create_engine

    engine = create_engine(stack_settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def admin_engine(stack):
    """The superuser: for test set-up only (the application never has these rights)."""
    engine = sa.create_engine(stack.superuser_url)
    yield engine
    engine.dispose()
