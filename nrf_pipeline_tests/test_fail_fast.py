"""Bad configuration fails fast with a message that says what to do."""

from __future__ import annotations

import socket
import time

import pytest

from nrf_pipeline.db.engine import DatabaseUnavailable, check_connection, create_engine
from nrf_pipeline.devstack import DevstackError
from nrf_pipeline.devstack.dagster import DagsterProcesses
from nrf_pipeline.devstack.liquibase import Liquibase
from nrf_pipeline.devstack.processes import free_port
from nrf_pipeline.settings import Settings


def test_unreachable_database_fails_fast_naming_the_settings():
    settings = Settings(DB_HOST="127.0.0.1", DB_PORT=free_port(), DB_SSL_MODE="disable")
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="DB_HOST/DB_PORT"):
        check_connection(create_engine(settings))
    assert time.monotonic() - started < 10


def test_missing_java_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(DevstackError, match="Java not found.*openjdk-17"):
        Liquibase("jdbc:postgresql://127.0.0.1:1/x", "postgres").update()


def test_taken_port_fails_fast():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        processes = DagsterProcesses({}, webserver_port=port)
        with pytest.raises(DevstackError, match=f"port {port} .* already in use"):
            processes.start_webserver()
