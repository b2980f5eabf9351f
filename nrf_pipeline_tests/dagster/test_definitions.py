"""The code location loads, and a real daemon with its code server runs against the stack."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from nrf_pipeline.definitions import defs
from nrf_pipeline.devstack.dagster import DagsterProcesses


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    assert "database" in repository.get_top_level_resources()


@pytest.fixture
def dagster_processes(stack):
    processes = DagsterProcesses(stack.env())
    yield processes
    processes.stop()


def test_daemon_writes_heartbeats_to_postgres(dagster_processes, monkeypatch):
    dagster_processes.start_daemon()
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_processes.home))
    for key, value in dagster_processes.env.items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        deadline = time.monotonic() + 90
        heartbeats = {}
        while time.monotonic() < deadline and not {"SENSOR", "QUEUED_RUN_COORDINATOR"} <= heartbeats.keys():
            heartbeats = instance.get_daemon_heartbeats()
            time.sleep(1)
        assert {"SENSOR", "QUEUED_RUN_COORDINATOR", "SCHEDULER"} <= heartbeats.keys(), heartbeats
        assert all(time.time() - hb.timestamp < 60 for hb in heartbeats.values())
    assert dagster_processes.daemon.poll() is None
