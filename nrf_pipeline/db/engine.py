"""The one way the application connects to PostgreSQL."""

from __future__ import annotations

import base64
import logging
import tempfile
import time

import sqlalchemy as sa

from nrf_pipeline.settings import Settings

log = logging.getLogger(__name__)

# RDS IAM tokens live 15 minutes; reuse one for at most 10 (platform.md §3.2).
IAM_TOKEN_MAX_AGE_SECONDS = 600


class DatabaseUnavailable(RuntimeError):
    pass


def create_engine(settings: Settings, **kwargs) -> sa.Engine:
    connect_args = {
        "connect_timeout": settings.DB_CONNECT_TIMEOUT_SECONDS,
        "sslmode": settings.DB_SSL_MODE,
        "application_name": "nrf-pipeline",
        # Keepalives notice a dead connection (RDS failover) instead of hanging on it.
        "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
    }
    if settings.DB_SSL_MODE == "verify-full" and settings.TRUSTSTORE_RDS_ROOT_CA:
        connect_args["sslrootcert"] = _write_ca(settings.TRUSTSTORE_RDS_ROOT_CA)
    engine = sa.create_engine(
        settings.database_url(), connect_args=connect_args, pool_pre_ping=True, pool_recycle=600, **kwargs
    )
    if settings.DB_IAM_AUTHENTICATION:
        log.info("database credentials: RDS IAM token")
        _inject_iam_token(engine, settings)
    else:
        log.info("database credentials: %s", "password" if settings.DB_LOCAL_PASSWORD else "none (trust)")
    return engine


def check_connection(engine: sa.Engine) -> None:
    """Fail fast with an actionable message when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnavailable(
            f"cannot connect to the database at {url}: check DB_HOST/DB_PORT/DB_DATABASE/DB_USER "
            f"(or NRF_DATABASE_URL) and that the server is running ({type(exc.orig).__name__})"
        ) from None


def _write_ca(encoded: str) -> str:
    handle = tempfile.NamedTemporaryFile("wb", prefix="rds-ca-", suffix=".pem", delete=False)  # noqa: SIM115
    with handle:
        handle.write(base64.b64decode(encoded))
    return handle.name


def _inject_iam_token(engine: sa.Engine, settings: Settings) -> None:
    import boto3

    cache: dict[str, float | str] = {}

    @sa.event.listens_for(engine, "do_connect")
    def provide_token(dialect, conn_rec, cargs, cparams):
        if time.monotonic() - float(cache.get("at", -1e9)) > IAM_TOKEN_MAX_AGE_SECONDS:
            client = boto3.client("rds", region_name=settings.AWS_REGION)
            cache["token"] = client.generate_db_auth_token(
                DBHostname=settings.DB_HOST, Port=settings.DB_PORT, DBUsername=settings.DB_USER,
                Region=settings.AWS_REGION,
            )
            cache["at"] = time.monotonic()
        cparams["password"] = cache["token"]
