"""The Dagster instance configurations pass Dagster's own validation; the local one opens against the stack."""

from __future__ import annotations

import shutil

import dagster as dg
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import ConfigurableClassData, class_from_code_pointer

from nrf_pipeline_tests.paths import REPO

CDP = REPO / "deploy" / "dagster.cdp.yaml"
ECS_OVERLAY = REPO / "deploy" / "dagster.ecs-run-launcher.yaml"


def validated(tmp_path, source, overrides=None) -> dict:
    """The instance config as Dagster validates it, each pluggable class's config included."""
    shutil.copy(source, tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path), overrides=overrides)
    for key in ("run_coordinator", "run_launcher"):
        if key in config:
            # ConfigurableClassData maps the public `dagster.core` module names to `dagster._core`.
            pointer = ConfigurableClassData(config[key]["module"], config[key]["class"], "{}")
            cls = class_from_code_pointer(pointer.module_name, pointer.class_name)
            result = validate_config(cls.config_type(), config[key].get("config", {}))
            assert result.success, (key, result.errors)
    return config


def test_cdp_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("DB_PORT", "5432")
    config = validated(tmp_path, CDP)
    postgres = config["storage"]["postgres"]
    assert postgres["auth_provider"] == {"aws_wif": {"region": "eu-west-2"}}
    assert "password" not in yaml.safe_load(CDP.read_text())["storage"]["postgres"]["postgres_db"]
    assert postgres["postgres_db"]["params"]["sslmode"] == "require"
    assert postgres["postgres_db"]["params"]["options"] == "-c search_path=dagster"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_retries"]["enabled"] and config["run_retries"]["max_retries"] == 1
    assert config["run_monitoring"]["enabled"] and config["telemetry"] == {"enabled": False}


def test_ecs_run_launcher_overlay(tmp_path, monkeypatch):
    monkeypatch.setenv("DB_PORT", "5432")
    config = validated(tmp_path, CDP, overrides=yaml.safe_load(ECS_OVERLAY.read_text()))
    assert config["run_launcher"]["class"] == "EcsRunLauncher"
    assert config["storage"]["postgres"]["auth_provider"]  # the overlay keeps the CDP storage


def test_local_instance_opens_against_the_stack(stack, tmp_path, monkeypatch):
    for key, value in stack.env().items():
        monkeypatch.setenv(key, value)
    validated(tmp_path, REPO / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        instance.get_daemon_heartbeats()
