"""A throwaway PostgreSQL 15 + PostGIS 3 cluster on a free loopback port."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2

from nrf_pipeline.devstack.errors import DevstackError
from nrf_pipeline.devstack.processes import ensure_port_free, free_port, wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
INSTALL_HINT = "run scripts/setup.sh (it installs Debian's postgresql-15 and postgresql-15-postgis-3)"


class PostgresServer:
    """initdb + pg_ctl as the `postgres` user (initdb refuses root), data in a temporary folder."""

    def __init__(self, database: str = "nrf", port: int | None = None):
        self.database = database
        self.port = port
        self.host = "127.0.0.1"
        self.user = "postgres"
        self._dir: Path | None = None

    @property
    def running(self) -> bool:
        return self._dir is not None

    def dsn(self, database: str | None = None) -> dict:
        return {"host": self.host, "port": self.port, "user": self.user, "dbname": database or self.database}

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    def start(self) -> None:
        if self.running:
            return
        for binary in ("initdb", "pg_ctl"):
            if not (PG_BIN / binary).exists():
                raise DevstackError(f"PostgreSQL 15 server binaries not found in {PG_BIN}: {INSTALL_HINT}")
        if not POSTGIS_CONTROL.exists():
            raise DevstackError(f"PostGIS 3 for PostgreSQL 15 is not installed: {INSTALL_HINT}")
        if self.port is None:
            self.port = free_port()
        else:
            ensure_port_free(self.port, "PostgreSQL")
        self._dir = Path(tempfile.mkdtemp(prefix="nrf-pg-"))
        run_as = self._run_as()
        if run_as:
            shutil.chown(self._dir, user=run_as)
        data, log = self._dir / "data", self._dir / "postgres.log"
        self._pg(run_as, "initdb", "-D", str(data), "-U", self.user, "-A", "trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {self.port} -k {self._dir} -c listen_addresses={self.host} "
            # A throwaway cluster: durability buys nothing and costs seconds.
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._pg(run_as, "pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start")
        wait_until(self._accepts_connections, 30, "PostgreSQL", log)
        conn = psycopg2.connect(**self.dsn("postgres"))
        try:
            conn.autocommit = True  # CREATE DATABASE refuses to run in a transaction
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            conn.close()

    def stop(self) -> None:
        if not self.running:
            return
        run_as = self._run_as()
        try:
            self._pg(run_as, "pg_ctl", "-D", str(self._dir / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _accepts_connections(self) -> bool:
        try:
            psycopg2.connect(connect_timeout=2, **self.dsn("postgres")).close()
            return True
        except psycopg2.OperationalError:
            return False

    @staticmethod
    def _run_as() -> str | None:
        """The server must not run as root; as root, run it as `postgres`."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise DevstackError(f"running as root but there is no 'postgres' user: {INSTALL_HINT}") from None
        return "postgres"

    def _pg(self, run_as: str | None, binary: str, *args: str) -> None:
        command = [str(PG_BIN / binary), *args]
        if run_as:
            command = ["runuser", "-u", run_as, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self._dir, check=False)
        if result.returncode != 0:
            raise DevstackError(f"{binary} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
