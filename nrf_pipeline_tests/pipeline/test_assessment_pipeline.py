"""The product as its users meet it: a message on the queue → one Dagster run started by the real
daemon's SQS sensor → results PATCHed to the nrf-backend stub, failures to the support mailbox.

Real parts throughout: PostGIS with the Liquibase schema, moto SQS with a DLQ, the backend stub and
Notify fake as HTTP servers, dagster-daemon with its code server.
"""

from __future__ import annotations

import json
import os
import signal
import time

import dagster as dg
import pytest
import shapely.geometry
import sqlalchemy as sa
from dagster._core.storage.tags import RUN_KEY_TAG

from nrf_pipeline.cli.demo import sample_quote, send_trigger, wait_for_results
from nrf_pipeline.contract import validate_patch_body
from nrf_pipeline.defs.assessment.ops import TAG_REFERENCE, TAG_SENT_AT, TAG_TRACE_ID
from nrf_pipeline.devstack.dagster import DagsterProcesses
from nrf_pipeline.logging_setup import JSON_CONFIG, load_config
from nrf_pipeline.message import MAX_BODY_BYTES
from nrf_pipeline.reference import load_reference_set
from nrf_pipeline.sites import read_sites
from nrf_pipeline_tests.paths import INPUTS_DIR, REFERENCE_DIR, REPO
from nrf_pipeline_tests.pipeline.daemon import DAEMON_ENV
from nrf_pipeline_tests.platform.test_logging_metrics import ecs_lines, metrics_enabled, restore_logging  # noqa: F401

LONDON = INPUTS_DIR / "nutrients/no_edp_intersection.geojson"
GCN_SITE = INPUTS_DIR / "gcn/SiteBoundaries/SiteBoundary_00001.shp"
GCN_PONDS = INPUTS_DIR / "gcn/SitePonds/SitePonds_00001.shp"
# A self-intersecting "bow tie" in British National Grid, near the sample site.
BOW_TIE = shapely.geometry.Polygon([(592500, 294500), (592600, 294600), (592600, 294500), (592500, 294600)])


@pytest.fixture(scope="module")
def daemon(stack, app_engine):
    load_reference_set(app_engine, REFERENCE_DIR, run_id="pipeline-tests")
    processes = DagsterProcesses({**stack.env(), **DAEMON_ENV})
    processes.start_daemon()
    yield processes
    processes.stop()


@pytest.fixture(scope="module")
def pipeline(stack, daemon):
    with pytest.MonkeyPatch.context() as patch:
        for key, value in daemon.env.items():
            patch.setenv(key, value)
        with dg.DagsterInstance.get() as instance:
            yield stack, instance


def assessment_job_with_resources() -> dg.JobDefinition:
    """The job as the code location defines it, for re-execution through Dagster's Python API."""
    from nrf_pipeline.definitions import defs

    return defs.get_job_def("assessment_job")


def quote_for(reference: str, geometry, **extra) -> dict:
    return {"reference": reference, "developmentTypes": ["housing"], "housingUnits": 10,
            "boundaryGeojson": {"boundaryGeometryOriginal": shapely.geometry.mapping(geometry)}, **extra}


def runs_for(instance, reference: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(tags={"nrf/reference": reference})))


def wait_for_run(instance, reference: str, statuses: set, timeout: float = 120) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in runs_for(instance, reference) if r.status in statuses]
        if runs:
            return runs[0]
        time.sleep(0.5)
    raise AssertionError(f"no run for {reference} reached {statuses} within {timeout} s")


def assessment_row(app_engine, reference: str) -> dict:
    with app_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM nrf.assessment WHERE reference = :r"), {"r": reference}).mappings().all()
    assert len(rows) == 1
    return dict(rows[0])


def wait_for_failure_recorded(app_engine, reference: str, timeout: float = 60) -> dict:
    """The run-failure sensor has marked the assessment failed and mailed support."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = assessment_row(app_engine, reference)
        if row["status"] == "failed" and row["support_email_status"] is not None:
            return row
        time.sleep(0.5)
    raise AssertionError(f"failure of {reference} not recorded: {row}")


def queue_counts(stack) -> dict[str, str]:
    return stack.moto.client("sqs").get_queue_attributes(QueueUrl=stack.moto.queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]


def wait_until_queue_empty(stack, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = queue_counts(stack)
        if attributes["ApproximateNumberOfMessages"] == "0" and attributes["ApproximateNumberOfMessagesNotVisible"] == "0":
            return
        time.sleep(0.5)
    raise AssertionError(f"queue not empty: {attributes}")


def patches_for(stack, reference: str) -> list[dict]:
    """The PATCH requests the backend stub answered 200 for this reference, oldest first."""
    return [r for r in stack.backend.control().requests()
            if r["method"] == "PATCH" and r["path"] == f"/quotes/{reference}" and r["status"] == 200]


def test_site_in_an_nn_catchment(pipeline, app_engine):
    stack, instance = pipeline
    stack.backend.control().put_quote(sample_quote("NRL-100001"))
    message_id = send_trigger(stack, "NRL-100001", trace_id="trace-100001")
    body = wait_for_results(stack, "NRL-100001", 120)

    assert validate_patch_body(body) == []
    assert body["outcome"] == "ASSESSED" and body["methodVersion"] == "nrf-2026-04"
    (entry,) = body["edps"]
    # nutrient-method.md §5.5: BnW_small on the shipped (synthetic) coefficient layer, nrf-2026-04.
    assert entry["edpName"] == "River Wensum SAC" and entry["edpId"] == "31"
    assert entry["impact"]["nitrogenTotal"] == {"amount": 2.78, "unit": "kg/yr"}
    assert entry["impact"]["phosphorusTotal"] == {"amount": 0.14, "unit": "kg/yr"}
    assert body["provenance"]["traceId"] == "trace-100001"

    run = wait_for_run(instance, "NRL-100001", {dg.DagsterRunStatus.SUCCESS})
    assert run.tags[RUN_KEY_TAG] == f"NRL-100001:{message_id}"
    assert run.tags["nrf/trace_id"] == "trace-100001"
    row = assessment_row(app_engine, "NRL-100001")
    assert row["status"] == "succeeded" and row["outcome"] == "ASSESSED" and row["callback_status"] == "sent"
    assert row["pipeline_run_id"] == run.run_id == body["provenance"]["pipelineRunId"]
    assert row["release_id"] == body["provenance"]["referenceData"]["releaseId"]
    assert set(row["data_versions"]) >= {"coefficient_layer", "nn_catchments", "gcn_ponds"}
    assert row["payload"]["edps"] == body["edps"]
    wait_until_queue_empty(stack)  # acknowledged once the run existed
    assert len(runs_for(instance, "NRL-100001")) == 1


def test_site_outside_every_catchment_is_out_of_scope(pipeline, app_engine):
    stack, instance = pipeline
    (site,), _ = read_sites(LONDON, dwellings=10)
    stack.backend.control().put_quote(quote_for("NRL-100002", site.geometry))
    send_trigger(stack, "NRL-100002")
    body = wait_for_results(stack, "NRL-100002", 120)
    assert validate_patch_body(body) == []
    assert body["outcome"] == "OUT_OF_SCOPE" and body["edps"] == []
    assert assessment_row(app_engine, "NRL-100002")["outcome"] == "OUT_OF_SCOPE"


def test_gcn_survey_quote(pipeline):
    stack, instance = pipeline
    sites, _ = read_sites(GCN_SITE, dwellings=50)
    boundary = shapely.geometry.MultiPolygon([p for s in sites for p in getattr(s.geometry, "geoms", [s.geometry])])
    import geopandas

    ponds = geopandas.read_file(GCN_PONDS)
    survey = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}},
        "features": [{"type": "Feature", "geometry": shapely.geometry.mapping(g),
                      "properties": {"PANS": pans, "TmpImp": tmp}}
                     for g, pans, tmp in zip(ponds.geometry, ponds["PANS"], ponds["TmpImp"])],
    }
    stack.backend.control().put_quote(quote_for("NRL-100003", boundary, gcnSurveyPonds=survey))
    send_trigger(stack, "NRL-100003")
    body = wait_for_results(stack, "NRL-100003", 120)
    assert validate_patch_body(body) == []
    gcn = [e for e in body["edps"] if e["edpType"] == "GCN"]
    assert {e["edpName"] for e in gcn} <= {"AreaA", "AreaB", None} and gcn
    assert all(e["impact"]["route"] == "SURVEY" for e in gcn)
    # gcn-method.md §6: 132 survey ponds are counted for this site.
    assert sum(e["impact"]["ponds"]["total"] for e in gcn) == 132
    assert body["provenance"]["methodVersions"]["gcn"] == "gcn-2025-11"


@pytest.mark.parametrize("body", [
    "not json", json.dumps({"reference": "XYZ-1"}), json.dumps({"traceId": "x"}),
    # Valid but for its size: one byte over the limit (moto accepts up to 1 MiB, as SQS now does).
    json.dumps({"reference": "NRL-100099", "pad": "x" * (MAX_BODY_BYTES - 37)}),
], ids=["not_json", "invalid_reference", "missing_reference", "body_too_large"])
def test_malformed_messages_start_no_run_and_stay_for_the_dlq(pipeline, body):
    stack, instance = pipeline
    sqs = stack.moto.client("sqs")
    before = len(instance.get_runs())
    sqs.send_message(QueueUrl=stack.moto.queue_url, MessageBody=body)
    deadline = time.monotonic() + 30
    received = False
    while time.monotonic() < deadline and not received:  # the sensor received it and did not delete it
        attributes = sqs.get_queue_attributes(QueueUrl=stack.moto.queue_url,
                                              AttributeNames=["ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        received = attributes["ApproximateNumberOfMessagesNotVisible"] != "0"
        time.sleep(0.5)
    assert received
    time.sleep(3)  # more ticks: still no run
    assert len(instance.get_runs()) == before
    sqs.purge_queue(QueueUrl=stack.moto.queue_url)


def test_unknown_quote_fails_the_run_and_mails_support(pipeline, app_engine):
    stack, instance = pipeline
    send_trigger(stack, "NRL-100004")
    run = wait_for_run(instance, "NRL-100004", {dg.DagsterRunStatus.FAILURE})
    row = wait_for_failure_recorded(app_engine, "NRL-100004")
    assert row["error_code"] == "quote_not_found"
    assert row["support_email_status"] == "sent" and row["callback_status"] == "not_sent"
    mails = [n for n in stack.notify.control().notifications() if n["reference"] == f"NRL-100004-failure-{run.run_id[:8]}"]
    assert len(mails) == 1
    assert mails[0]["personalisation"]["error_message"].startswith("quote_not_found: ")
    assert stack.backend.control().results("NRL-100004") is None


def test_backend_down_then_reexecuted_sends_results_exactly_once(pipeline, app_engine):
    stack, instance = pipeline
    backend = stack.backend.control()
    backend.put_quote(sample_quote("NRL-100005"))
    backend.fail(status=503, count=None, method="PATCH")
    send_trigger(stack, "NRL-100005")
    failed = wait_for_run(instance, "NRL-100005", {dg.DagsterRunStatus.FAILURE}, timeout=180)
    assert wait_for_failure_recorded(app_engine, "NRL-100005")["error_code"] == "backend_unavailable"
    assert backend.results("NRL-100005") is None

    backend.clear_failures()
    result = dg.execute_job(
        dg.reconstructable(assessment_job_with_resources), instance,
        reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance),
        # As the UI does when an operator re-executes: the run's own tags come along.
        tags={key: value for key, value in failed.tags.items() if key.startswith("nrf/")},
    )
    assert result.success
    assert len(patches_for(stack, "NRL-100005")) == 1
    row = assessment_row(app_engine, "NRL-100005")
    assert row["status"] == "succeeded" and row["pipeline_run_id"] == result.run_id


def test_invalid_geometry_fails_the_run_and_sends_nothing(pipeline, app_engine):
    stack, instance = pipeline
    stack.backend.control().put_quote(quote_for("NRL-100006", BOW_TIE))
    send_trigger(stack, "NRL-100006")
    wait_for_run(instance, "NRL-100006", {dg.DagsterRunStatus.FAILURE})
    row = wait_for_failure_recorded(app_engine, "NRL-100006")
    assert row["error_code"] == "invalid_geometry"
    assert row["support_email_status"] == "sent" and row["callback_status"] == "not_sent"
    assert patches_for(stack, "NRL-100006") == [] and stack.backend.control().results("NRL-100006") is None


def test_the_same_reference_sent_twice_is_assessed_twice_with_identical_results(pipeline):
    stack, instance = pipeline
    stack.backend.control().put_quote(sample_quote("NRL-100007"))
    send_trigger(stack, "NRL-100007")
    send_trigger(stack, "NRL-100007")
    deadline = time.monotonic() + 120
    while len(patches_for(stack, "NRL-100007")) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    first, second = patches_for(stack, "NRL-100007")
    assert first["body"]["edps"] == second["body"]["edps"]
    assert first["body"]["provenance"]["pipelineRunId"] != second["body"]["provenance"]["pipelineRunId"]
    assert sorted([first["changed"], second["changed"]]) == [False, True]  # the backend ignored the repeat
    assert len(runs_for(instance, "NRL-100007")) == 2


def test_daemon_killed_between_receive_and_acknowledge(pipeline, daemon):
    """The run exists and has PATCHed, but the tick that would delete the message never comes: the
    daemon dies. The restarted daemon deletes the message; nothing is assessed twice."""
    stack, instance = pipeline
    daemon.stop_daemon()
    # Dagster spaces ticks by the sensor's minimum interval, counted from the last tick of the daemon
    # just stopped: the slow daemon's first tick comes within 25 s, its second 25 s later, a wide
    # window to kill it in once the run has finished.
    slow = DagsterProcesses({**stack.env(), **DAEMON_ENV, "SQS_SENSOR_INTERVAL_SECONDS": "25"}, home=daemon.home)
    stack.backend.control().put_quote(sample_quote("NRL-100008"))
    send_trigger(stack, "NRL-100008")
    slow.start_daemon()
    try:
        wait_for_run(instance, "NRL-100008", {dg.DagsterRunStatus.SUCCESS})
        os.killpg(slow.daemon.pid, signal.SIGKILL)
        slow.daemon.wait()
    finally:
        slow.stop_daemon()
    assert queue_counts(stack)["ApproximateNumberOfMessagesNotVisible"] == "1"  # received, not acknowledged

    daemon.start_daemon()
    wait_until_queue_empty(stack, timeout=60)
    assert len(runs_for(instance, "NRL-100008")) == 1
    assert len(patches_for(stack, "NRL-100008")) == 1


def test_run_logs_carry_the_trace_id_and_metrics_are_emitted(pipeline, restore_logging, metrics_enabled, capsys,  # noqa: F811
                                                               monkeypatch):
    """The job in-process, logging through logging.json into a buffer; the applicant e-mail is on, so
    the quote's e-mail address passes through the run."""
    stack, _ = pipeline
    quote = sample_quote("NRL-100010")
    stack.backend.control().put_quote(quote)
    monkeypatch.setenv("NOTIFY_APPLICANT_ENABLED", "true")
    tags = {TAG_REFERENCE: "NRL-100010", TAG_TRACE_ID: "trace-100010", TAG_SENT_AT: f"{time.time() - 2:.3f}"}
    results = []
    with dg.DagsterInstance.ephemeral() as instance:
        lines = ecs_lines(load_config(REPO / JSON_CONFIG, "INFO"), lambda _: results.append(
            assessment_job_with_resources().execute_in_process(tags=tags, instance=instance)))
    assert results[0].success
    assert {"backend_response", "email_sent"} <= {line["message"] for line in lines}
    assert [line for line in lines if line.get("trace", {}).get("id") != "trace-100010"] == []
    text = json.dumps(lines)
    coordinates = shapely.geometry.shape(quote["boundaryGeojson"]["boundaryGeometryOriginal"]).exterior.coords
    for forbidden in [quote["email"], "boundaryGeometryOriginal", "housingUnits",
                      *(f"{value:.0f}" for xy in list(coordinates)[:3] for value in xy)]:
        assert forbidden not in text

    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for record in emf for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"QueueLag", "AssessmentDuration", "AssessmentSucceeded"}
    (lag,) = [record["QueueLag"] for record in emf if "QueueLag" in record]
    assert 2 <= lag < 60
