"""The shipped reference set loads, checks, releases and activates; readers resolve it."""

from __future__ import annotations

import sqlalchemy as sa

from nrf_pipeline.reference import GCN_LAYERS, NUTRIENT_LAYERS, load_reference_set, resolve_active_release
from nrf_pipeline_tests.paths import REFERENCE_DIR

EXPECTED_ROWS = {
    "coefficient_layer": 7844, "nn_catchments": 5, "wwtw_catchments": 62, "lpa_boundaries": 11, "subcatchments": 10,
    "edp_boundaries": 1, "edp_edges": 2, "edp_excluded_areas": 3, "gcn_risk_zones": 107, "gcn_ponds": 169,
    "wwtw_lookup": 641, "rates_lookup": 30,
}


def test_every_layer_loads_with_the_spec_row_counts(app_engine, shipped_release):
    with app_engine.connect() as conn:
        release = resolve_active_release(conn, NUTRIENT_LAYERS + GCN_LAYERS)
        assert release.release_id == shipped_release
        assert set(release.versions) == set(EXPECTED_ROWS)
        for layer, rows in EXPECTED_ROWS.items():
            counted = conn.execute(sa.text(f"SELECT count(*) FROM nrf.{layer} WHERE version = :v"),
                                   {"v": release.version(layer)}).scalar_one()
            assert counted == rows, layer
            assert len(release.sha256[layer]) == 64
        qc = dict(conn.execute(sa.text(
            "SELECT v.layer, v.qc_status FROM nrf.active_reference_data a JOIN nrf.reference_data_version v "
            "USING (layer, version)")).all())
        assert set(qc.values()) == {"passed"}


def test_geometries_are_2d_multipolygons_in_27700(app_engine, shipped_release):
    with app_engine.connect() as conn:
        release = resolve_active_release(conn)
        for layer in ("nn_catchments", "edp_boundaries", "gcn_risk_zones"):  # Z in the source
            dims = conn.execute(sa.text(
                f"SELECT DISTINCT ST_NDims(geom), ST_GeometryType(geom), ST_SRID(geom) FROM nrf.{layer} WHERE version = :v"
            ), {"v": release.version(layer)}).all()
            assert dims == [(2, "ST_MultiPolygon", 27700)], layer


def test_typed_lookup_columns(app_engine, shipped_release):
    with app_engine.connect() as conn:
        v = resolve_active_release(conn).version("wwtw_lookup")
        row = lambda where: conn.execute(sa.text(  # noqa: E731
            f"SELECT * FROM nrf.wwtw_lookup WHERE version = :v AND {where} ORDER BY source_row LIMIT 1"), {"v": v}).one()
        tabbed = row("wwtw_code_raw LIKE E'\\t%'")
        assert tabbed.wwtw_code == int(tabbed.wwtw_code_raw.strip())
        donyatt = row("wwtw_code = 10281")
        assert donyatt.n_conc_2025_2030 is None and donyatt.attributes["Nitrogen_2025_2030"] == "f"
        kendal = row("attributes ->> 'Phosphorus_2025_2030' = '?'")
        assert kendal.p_conc_2025_2030 is None and kendal.p_conc_2030_onwards is None and kendal.wwtw_code is None
        ptp = row("wwtw_code = 141")
        assert (ptp.n_conc_2025_2030, ptp.n_conc_2030_onwards, ptp.p_conc_2025_2030, ptp.p_conc_2030_onwards) == (25, 25, 4.5, 4.5)
        counts = conn.execute(sa.text(
            "SELECT count(wwtw_code), count(DISTINCT wwtw_code), count(*) FILTER (WHERE wwtw_code_raw IS NULL) "
            "FROM nrf.wwtw_lookup WHERE version = :v"), {"v": v}).one()
        assert tuple(counts) == (508, 506, 128)


def test_reload_of_unchanged_files_reuses_every_version(app_engine, shipped_release):
    with app_engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM nrf.reference_data_version")).scalar_one()
        releases = conn.execute(sa.text("SELECT count(*) FROM nrf.reference_data_release")).scalar_one()
    assert load_reference_set(app_engine, REFERENCE_DIR) == shipped_release
    with app_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM nrf.reference_data_version")).scalar_one() == before
        assert conn.execute(sa.text("SELECT count(*) FROM nrf.reference_data_release")).scalar_one() == releases


def test_shipped_warnings_are_recorded(app_engine, shipped_release):
    with app_engine.connect() as conn:
        release = resolve_active_release(conn)
        checks = {(layer, c["name"]): c for layer, report in conn.execute(sa.text(
            "SELECT layer, qc_report FROM nrf.reference_data_version WHERE (layer, version) IN "
            "(SELECT layer, version FROM nrf.active_reference_data)")) for c in report["checks"]}
        release_report = conn.execute(sa.text("SELECT qc_report FROM nrf.reference_data_release WHERE release_id = :r"),
                                      {"r": release.release_id}).scalar_one()
    overlap = checks[("nn_catchments", "nn_same_name_overlap")]
    assert (overlap["passed"], overlap["severity"]) == (False, "WARN")
    assert {(p["a"], p["b"]) for p in overlap["details"]["pairs"]} == {(27, 33), (29, 33)}
    codes = checks[("wwtw_lookup", "wwtw_code_issues")]["details"]
    assert [d["code"] for d in codes["duplicated_codes"]] == [10261, 10416]
    invalid = {(v["column"], v["raw"]) for v in checks[("wwtw_lookup", "lookup_invalid_values")]["details"]["values"]}
    assert {("n_conc_2025_2030", "f"), ("p_conc_2025_2030", "?"), ("p_conc_2030_onwards", "?")} <= invalid
    assert checks[("wwtw_catchments", "wwtw_id_shared")]["details"]["shared_ids"] == 1  # one works has 7 of the 62 polygons
    by_name = {c["name"]: c for c in release_report["checks"]}
    assert by_name["release_complete"]["passed"]
    assert not by_name["referential_rates_nn"]["passed"] and by_name["referential_rates_nn"]["severity"] == "WARN"
