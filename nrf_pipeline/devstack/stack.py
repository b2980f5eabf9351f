"""The whole local stack as one object: start() and stop() are idempotent and safe to repeat."""

from __future__ import annotations

import psycopg2

from nrf_pipeline.devstack.liquibase import Liquibase
from nrf_pipeline.devstack.moto import REGION, MotoServer
from nrf_pipeline.devstack.postgres import PostgresServer

APP_ROLE = "nrf_impact_assessment_service"
DDL_ROLE = "nrf_impact_assessment_service_ddl"
DATABASE = "nrf_impact_assessment_service"
# Fixed local values, so logs and the fake's records are easy to read.
SUPPORT_EMAIL = "nrf-support@example.gov.uk"
TEMPLATE_ID_RESULT = "0b6f3c52-5a1d-4e2b-9a63-7c0d8e1f2a31"
TEMPLATE_ID_FAILURE = "6e2d9b14-3c7a-4f85-b0e6-1a9d4c7b5e82"


class LocalStack:
    """PostgreSQL+PostGIS with the schema applied by Liquibase, and moto (SQS with a DLQ, S3).

    With `backend=True` and `notify=True`, also the nrf-backend stub and the GOV.UK Notify fake,
    both in-process HTTP servers on free loopback ports (their control clients: `.control()`).

    As on CDP, the application connects as the app role, which has only the grants the changelog
    gives it; Liquibase runs as the superuser here because creating PostGIS needs one.
    """

    def __init__(self, sqs: bool = True, visibility_timeout: int | None = None, backend: bool = False,
                 notify: bool = False):
        self.postgres = PostgresServer(database=DATABASE)
        self.moto = MotoServer(**({"visibility_timeout": visibility_timeout} if visibility_timeout else {})) if sqs else None
        # Imported here, not at the top: the package imports this module, and a module that
        # `python -m` runs must not be imported before it (runpy warns about that).
        from nrf_pipeline.devstack.backend_stub import BackendStub
        from nrf_pipeline.devstack.notify_fake import NotifyFake

        self.backend = BackendStub() if backend else None
        self.notify = NotifyFake() if notify else None
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
            for fake in (self.backend, self.notify):
                if fake:
                    fake.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for fake in (self.backend, self.notify):
            if fake:
                fake.stop()
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
        if self.backend and self.backend.running:
            env |= {"BACKEND_URL": self.backend.url, "BACKEND_API_KEY": self.backend.api_key}
        if self.notify and self.notify.running:
            env |= {
                "NOTIFY_BASE_URL": self.notify.url,
                "NOTIFY_API_KEY": self.notify.api_key,
                "NOTIFY_SUPPORT_EMAIL": SUPPORT_EMAIL,
                "NOTIFY_TEMPLATE_ID_RESULT": TEMPLATE_ID_RESULT,
                "NOTIFY_TEMPLATE_ID_FAILURE": TEMPLATE_ID_FAILURE,
            }
        return env
