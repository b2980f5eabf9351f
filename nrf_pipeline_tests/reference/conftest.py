"""Fixtures of the reference tests.

Loading, checking and the bad-input tests use the shared stack database: they only add versions
(and activate the shipped set, which every reader expects). Tests that activate other releases,
roll back or purge get their own database in the stack's cluster, migrated by Liquibase and
bootstrapped from the stack's S3 (moto), so no other test ever sees their activations.
"""

from __future__ import annotations

import uuid

import boto3
import psycopg2
import pytest

from nrf_pipeline.db.engine import create_engine
from nrf_pipeline.devstack.liquibase import Liquibase
from nrf_pipeline.devstack.moto import BUCKET
from nrf_pipeline.reference import load_reference_set
from nrf_pipeline.settings import Settings
from nrf_pipeline_tests.paths import REFERENCE_DIR

S3_PREFIX = f"s3://{BUCKET}/reference"


@pytest.fixture(scope="session")
def shipped_release(app_engine) -> int:
    return load_reference_set(app_engine, REFERENCE_DIR, run_id="test-shipped")


@pytest.fixture(scope="module")
def stack_env(stack):
    """The stack's variables in os.environ (boto3 and the Dagster resource read them there)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in stack.env().items():
            patch.setenv(key, value)
        yield patch


@pytest.fixture(scope="module")
def s3_reference_set(stack, stack_env) -> str:
    """The shipped set uploaded to the stack's bucket."""
    s3 = boto3.client("s3", endpoint_url=stack.moto.endpoint)
    for path in REFERENCE_DIR.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), BUCKET, f"reference/{path.relative_to(REFERENCE_DIR)}")
    return S3_PREFIX


@pytest.fixture(scope="module")
def own_database(stack, stack_env):
    """(name, app-role engine) of a new migrated database; DB_DATABASE in the environment points at it."""
    name = f"reference_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(**stack.postgres.dsn())
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    Liquibase(f"jdbc:postgresql://127.0.0.1:{stack.postgres.port}/{name}", "postgres").update()
    stack_env.setenv("DB_DATABASE", name)
    engine = create_engine(Settings())
    yield name, engine
    engine.dispose()
    admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


@pytest.fixture(scope="module")
def own_engine(own_database):
    return own_database[1]
