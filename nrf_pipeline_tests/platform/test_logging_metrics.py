"""logging.json loads as the production image loads it; records carry trace.id; metrics never raise."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from aws_embedded_metrics.environment import environment_detector

from nrf_pipeline import metrics
from nrf_pipeline.logging_setup import (
    DEV_CONFIG,
    JSON_CONFIG,
    HealthAccessFilter,
    RedactionFilter,
    TraceIdFilter,
    config_path,
    load_config,
    redact,
    trace_context,
)
from nrf_pipeline.settings import Settings, get_settings
from nrf_pipeline_tests.paths import REPO


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def ecs_lines(config: dict, log) -> list[dict]:
    """Configure logging from `config` with its handler writing to a buffer; run `log`; parse the lines."""
    buffer = io.StringIO()
    config["handlers"]["stdout"]["stream"] = buffer
    logging.config.dictConfig(config)
    log(logging.getLogger("nrf_pipeline.test"))
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


@pytest.mark.parametrize("name", [JSON_CONFIG, DEV_CONFIG])
def test_logging_files_load_with_dict_config(name, restore_logging):
    logging.config.dictConfig(load_config(REPO / name, "WARNING"))
    assert logging.getLogger().level == logging.WARNING


def test_trace_id_comes_out_as_ecs_json(restore_logging):
    def log(logger):
        with trace_context("4bf92f3577b34da6a3ce929d0e0e4736"):
            logger.info("assessment started for %s", "NRF-000123")
        logger.info("outside any run")

    inside, outside = ecs_lines(load_config(REPO / JSON_CONFIG, "INFO"), log)
    assert inside["trace"] == {"id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    assert inside["message"] == "assessment started for NRF-000123" and inside["log.level"] == "info"
    assert "@timestamp" in inside and "ecs.version" in inside
    assert "trace" not in outside


def test_health_access_lines_are_dropped_and_secrets_redacted(restore_logging):
    def log(logger):
        logger.info('127.0.0.1 "GET /health HTTP/1.1" 200 -')
        logger.info("HTTPS_PROXY is %s", "http://user:s3cret@proxy.cdp:3128")
        logger.info("token host:5432/?Action=connect&X-Amz-Signature=abcdef123&X-Amz-Date=1")
        logger.info("sending to someone@example.gov.uk with x-api-key: abc123")

    lines = [line["message"] for line in ecs_lines(load_config(REPO / JSON_CONFIG, "INFO"), log)]
    assert lines == [
        "HTTPS_PROXY is http://***@proxy.cdp:3128",
        "token host:5432/?Action=connect&X-Amz-Signature=***&X-Amz-Date=1",
        "sending to ***@*** with x-api-key: ***",
    ]
    assert redact("no secrets here: NRF-000123, run 42") == "no secrets here: NRF-000123, run 42"


def test_filters_are_the_ones_the_files_reference():
    referenced = {f["()"] for f in json.loads((REPO / JSON_CONFIG).read_text())["filters"].values()}
    assert referenced == {f"nrf_pipeline.logging_setup.{c.__name__}" for c in (TraceIdFilter, HealthAccessFilter, RedactionFilter)}


def test_json_chosen_inside_ecs_or_when_asked(monkeypatch):
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI_V4", raising=False)
    assert config_path(Settings(LOG_CONFIG=None)).name == DEV_CONFIG
    assert config_path(Settings(LOG_CONFIG="logging.json")).name == JSON_CONFIG
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/abc")
    assert config_path(Settings(LOG_CONFIG=None)).name == JSON_CONFIG


@pytest.fixture
def metrics_enabled(monkeypatch):
    monkeypatch.setenv("ENABLE_METRICS", "true")
    # AWS_EMF_ENVIRONMENT=Local (EMF JSON on stdout, no agent), as the library read it at import.
    monkeypatch.setattr(environment_detector.Config, "environment", "Local")
    monkeypatch.setattr(environment_detector.EnvironmentCache, "environment", None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_metrics_are_written_as_emf(metrics_enabled, capsys):
    metrics.assessment_failed("backend_unavailable")
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["AssessmentFailed"] == 1 and record["ErrorCode"] == "backend_unavailable"
    assert record["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "AssessmentFailed", "Unit": "Count"}]


def test_metrics_never_raise(metrics_enabled, monkeypatch, caplog):
    def broken():
        raise RuntimeError("spurious library error")

    monkeypatch.setattr(metrics, "create_metrics_logger", broken)
    metrics.queue_lag(3.5)
    assert "metric QueueLag not recorded" in caplog.text


def test_metrics_off_by_default(monkeypatch, capsys):
    monkeypatch.delenv("ENABLE_METRICS", raising=False)
    get_settings.cache_clear()
    metrics.assessment_succeeded()
    assert capsys.readouterr().out == ""
