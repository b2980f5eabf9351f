"""Releases, activation, rollback and purge, through the domain core and the Dagster jobs and assets,
in a database of their own (bootstrapped from the stack's S3)."""

from __future__ import annotations

import hashlib

import dagster as dg
import pytest
import sqlalchemy as sa

from nrf_pipeline.defs.reference.assets import REFERENCE_ASSETS
from nrf_pipeline.defs.reference.jobs import (
    reference_data_activate, reference_data_purge, reference_data_release, reference_data_rollback,
)
from nrf_pipeline.defs.resources import DatabaseResource
from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.reference import (
    GCN_LAYERS, ActiveRelease, ReleaseError, activate_release, build_release, load_layer, load_reference_set,
    resolve_active_release, run_checks,
)
from nrf_pipeline_tests.paths import REFERENCE_DIR, SHARED_DATA
from nrf_pipeline_tests.reference.sources import RATES_COLUMNS, square, write_layer, write_lookup

RESOURCES = {"database": DatabaseResource()}
ASSETS = {asset.key.path[-1]: asset for asset in REFERENCE_ASSETS}


def active(engine) -> ActiveRelease:
    with engine.connect() as conn:
        return resolve_active_release(conn)


def run_job(job, op: str, config: dict) -> dg.ExecuteInProcessResult:
    return job.execute_in_process(run_config={"ops": {op: {"config": config}}}, resources=RESOURCES,
                                  raise_on_error=False)


def materialise(layer: str, config: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize([ASSETS[layer]], resources=RESOURCES, raise_on_error=False,
                          run_config={"ops": {f"reference__{layer}": {"config": config}}})


@pytest.fixture(scope="module")
def bootstrap(own_engine, s3_reference_set) -> int:
    return load_reference_set(own_engine, s3_reference_set, run_id="bootstrap", label="bootstrap")


def test_nothing_active_yet(own_engine):
    with own_engine.connect() as conn, pytest.raises(AssessmentError) as raised:
        resolve_active_release(conn)
    assert raised.value.code == "reference_data_not_active"


def test_bootstrap_from_s3(own_engine, bootstrap):
    release = active(own_engine)
    assert release.release_id == bootstrap
    local = hashlib.sha256((REFERENCE_DIR / "gcn_ponds.gpkg").read_bytes()).hexdigest()
    assert release.sha256["gcn_ponds"] == local
    with own_engine.connect() as conn:
        uris = conn.execute(sa.text("SELECT DISTINCT source_uri FROM nrf.reference_data_version")).scalars().all()
        release.require(conn, GCN_LAYERS)
    assert all(uri.startswith("s3://nrf-reference-data/reference/") for uri in uris)


def test_release_with_a_failed_version_is_rejected_and_cannot_be_activated(own_engine, bootstrap, tmp_path):
    uri = write_layer(tmp_path, "gcn_risk_zones", [{"RZ": "Red", "geometry": square()}])  # 1 row < 90 % of 107
    loaded = load_layer(own_engine, "gcn_risk_zones", uri)
    assert any(r.blocks for r in run_checks(own_engine, "gcn_risk_zones", loaded.version))
    release = build_release(own_engine, {"gcn_risk_zones": loaded.version})
    assert release.status == "rejected"
    assert "gcn_risk_zones v2: loaded, QC failed" in release.checks[0].message
    with pytest.raises(ReleaseError, match="rejected, not approved"):
        activate_release(own_engine, release.release_id)
    result = run_job(reference_data_release, "build_reference_release", {"layers": {"gcn_risk_zones": loaded.version}})
    assert not result.success
    assert active(own_engine).release_id == bootstrap


def test_failing_asset_check_changes_nothing_active(own_engine, bootstrap, tmp_path):
    before = active(own_engine)
    uri = write_lookup(tmp_path, "rates_lookup", RATES_COLUMNS, [("A SAC", 0, 120)] * 30)
    result = materialise("rates_lookup", {"source_uri": uri})
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["rates_positive"].passed
    assert evaluations["rates_positive"].severity == dg.AssetCheckSeverity.ERROR
    assert active(own_engine) == before


def test_replace_one_layer_activate_and_roll_back_with_the_jobs(own_engine, bootstrap):
    synthetic = str(SHARED_DATA / "synthetic" / "gcn_ponds_synthetic.gpkg")
    result = materialise("gcn_ponds", {"source_uri": synthetic})
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    version = metadata["version"].value
    assert metadata["row_count"].value == 711 and metadata["source_uri"].value == synthetic
    assert len(metadata["source_sha256"].value) == 64 and metadata["loaded_by_run_id"].value == result.run_id
    assert all(e.passed for e in result.get_asset_check_evaluations())

    built = run_job(reference_data_release, "build_reference_release", {"layers": {"gcn_ponds": version}, "label": "ponds"})
    assert built.success
    release_id = built.output_for_node("build_reference_release")
    in_flight = active(own_engine)  # an assessment that resolved its release before the switch
    assert run_job(reference_data_activate, "activate_reference_release", {"release_id": release_id, "reason": "load test"}).success
    now = active(own_engine)
    assert now.release_id == release_id and now.versions["gcn_ponds"] == version
    assert {k: v for k, v in now.versions.items() if k != "gcn_ponds"} == {
        k: v for k, v in in_flight.versions.items() if k != "gcn_ponds"}
    assert in_flight.version("gcn_ponds") != version  # the running assessment keeps its versions

    assert run_job(reference_data_rollback, "rollback_reference_release", {"reason": "wrong ponds"}).success
    assert active(own_engine).release_id == bootstrap
    with own_engine.connect() as conn:
        last = conn.execute(sa.text("SELECT release_id, action, previous_release_id, reason FROM "
                                    "nrf.reference_data_activation ORDER BY activation_id DESC LIMIT 1")).one()
    assert tuple(last) == (bootstrap, "rollback", release_id, "wrong ponds")
    # Rolling forward is an ordinary activation.
    activate_release(own_engine, release_id, reason="forward again")
    assert active(own_engine).release_id == release_id
    activate_release(own_engine, bootstrap, reason="back to the shipped set")


def test_purge_keeps_retained_releases_and_blocks_activating_purged_ones(own_engine, bootstrap):
    with own_engine.begin() as conn:  # everything loaded long ago, so only retention protects it
        conn.execute(sa.text("UPDATE nrf.reference_data_version SET loaded_at = now() - interval '30 days'"))
        ponds_release = conn.execute(sa.text("SELECT release_id FROM nrf.reference_data_release WHERE label = 'ponds'")).scalar_one()
    result = run_job(reference_data_purge, "purge_reference_versions", {"retention_releases": 1})
    assert result.success and result.output_for_node("purge_reference_versions") >= 3
    with own_engine.connect() as conn:
        states = dict(conn.execute(sa.text("SELECT layer || ' v' || version, status FROM nrf.reference_data_version")).all())
        leftover = conn.execute(sa.text("SELECT count(*) FROM nrf.gcn_ponds WHERE version <> :v"),
                                {"v": active(own_engine).version("gcn_ponds")}).scalar_one()
    assert states["gcn_ponds v2"] == "purged" and states["gcn_risk_zones v2"] == "purged"
    assert {states[f"{layer} v{v}"] for layer, v in active(own_engine).versions.items()} == {"loaded"}
    assert leftover == 0
    with pytest.raises(ReleaseError, match="purged"):
        activate_release(own_engine, ponds_release)
    assert active(own_engine).release_id == bootstrap


def test_a_member_without_rows_is_reference_data_empty(own_engine, bootstrap):
    release = active(own_engine)
    with own_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM nrf.edp_edges WHERE version = :v"), {"v": release.version("edp_edges")})
    with own_engine.connect() as conn, pytest.raises(AssessmentError) as raised:
        resolve_active_release(conn, GCN_LAYERS)
    assert raised.value.code == "reference_data_empty"
    with pytest.raises(AssessmentError) as raised:
        ActiveRelease(1, {}, {}).version("edp_edges")
    assert raised.value.code == "reference_data_not_active"


def test_cli_status_and_rollback(own_engine, bootstrap, capsys):
    from nrf_pipeline.cli import main

    assert main(["reference", "status"]) == 0
    assert f"active release {bootstrap}:" in capsys.readouterr().out
    # The previously active release (the ponds one) was purged above, so it cannot come back.
    assert main(["reference", "rollback", "--reason", "cli test"]) == 1
    assert "purged" in capsys.readouterr().err
    assert main(["reference", "rollback", "--to", str(bootstrap), "--reason", "cli test"]) == 0
    assert f"rolled back to release {bootstrap}" in capsys.readouterr().out
