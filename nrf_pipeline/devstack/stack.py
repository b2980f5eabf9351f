"""The whole local stack as one object: start() and stop() are idempotent and safe to repeat."""

from __future__ import annotations

import psycopg2

from nrf_pipeline.devstack.liquibase import Liquibase
from nrf_pipeline.devstack.moto import REGION, MotoServer
from nrf_pipeline.devstack.postgres import PostgresServer

APP_ROLE = "nrf_impact_assessment_service"
DDL_ROLE = "nrf_impact_assessment_service_ddl"
DATABASE = "nrf_impact_assessment_service"


class LocalStack:
    """PostgreSQL+PostGIS with the schema applied by Liquibase, and moto (SQS with a DLQ, S3).

    As on CDP, the application connects as the app role, which has only the grants the changelog
    gives it; Liquibase runs as the superuser here because creating PostGIS needs one.
    """

    def __init__(self, sqs: bool = True, visibility_timeout: int | None = None):
        self.postgres = PostgresServer(database=DATABASE)
        self.moto = MotoServer(**({"visibility_timeout": visibility_timeout} if visibility_timeout else {})) if sqs else None
        self.liquibase: Liquibase | None = None

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        try:
            if not self.postgres.running:
                self.postgres.start()
                self._create_roles()
                self.liquibase = Liquibase(self.postgres.jdbc_url, self.postgres.user)
                self.liquibase.update()
            if self.moto:
                self.moto.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.moto:
            self.moto.stop()
        self.postgres.stop()

    def _create_roles(self) -> None:
        conn = psycopg2.connect(**self.postgres.dsn())
        try:
            with conn, conn.cursor() as cur:
                cur.execute(f"CREATE ROLE {DDL_ROLE} NOLOGIN")
                cur.execute(f"CREATE ROLE {APP_ROLE} LOGIN")
        finally:
            conn.close()

    @property
    def superuser_url(self) -> str:
        return self.postgres.sqlalchemy_url

    def env(self) -> dict[str, str]:
        """The environment variables (platform.md §6) that point the pipeline at this stack."""
        env = {
            "DB_HOST": self.postgres.host,
            "DB_PORT": str(self.postgres.port),
            "DB_DATABASE": DATABASE,
            "DB_USER": APP_ROLE,
            "DB_LOCAL_PASSWORD": "",
            "DB_IAM_AUTHENTICATION": "false",
            "DB_SSL_MODE": "disable",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }
        if self.moto and self.moto.running:
            env |= {
                "SQS_QUEUE_URL": self.moto.queue_url,
                "SQS_ENDPOINT": self.moto.endpoint,
                "AWS_ENDPOINT_URL": self.moto.endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
        return env
