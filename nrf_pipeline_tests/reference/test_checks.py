"""Each quality rule of reference-data.md §5.1 with a failing case."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from shapely.geometry import Polygon

from nrf_pipeline.reference import ReferenceDataError, load_layer, run_checks
from nrf_pipeline.reference.checks import ERROR, WARN
from nrf_pipeline_tests.paths import REFERENCE_DIR
from nrf_pipeline_tests.reference.sources import (
    RATES_COLUMNS, WWTW_COLUMNS, square, write_layer, write_lookup,
)

BOWTIE = Polygon([(600000, 300000), (600100, 300100), (600100, 300000), (600000, 300100)])


def checked(engine, layer, uri, allow_shrink_reason=None, **kwargs) -> dict:
    loaded = load_layer(engine, layer, uri, **kwargs)
    return {r.name: r for r in run_checks(engine, layer, loaded.version, allow_shrink_reason)} | {"_version": loaded.version}


def outcome(result) -> tuple[bool, str]:
    return result.passed, result.severity


def qc_status(engine, layer, version) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT qc_status FROM nrf.reference_data_version WHERE layer = :l AND version = :v"),
                            {"l": layer, "v": version}).scalar_one()


def test_row_count_nonzero(app_engine, tmp_path):
    results = checked(app_engine, "lpa_boundaries", write_layer(tmp_path, "lpa_boundaries", []))
    assert outcome(results["row_count_nonzero"]) == (False, ERROR)
    assert qc_status(app_engine, "lpa_boundaries", results["_version"]) == "failed"


def test_row_count_floor_and_its_waiver(app_engine, tmp_path, shipped_release):
    # 96 of the active 107 risk zones: below ceil(0.9 × 107) = 97.
    rows = [{"RZ": "Amber", "geometry": square(i)} for i in range(96)]
    uri = write_layer(tmp_path, "gcn_risk_zones", rows)
    assert outcome(checked(app_engine, "gcn_risk_zones", uri)["row_count_floor"]) == (False, ERROR)
    waived = checked(app_engine, "gcn_risk_zones", uri, allow_shrink_reason="national re-cut")["row_count_floor"]
    assert waived.passed and waived.details["waived_reason"] == "national re-cut"


def test_geometry_srid_and_type_are_enforced_by_the_table(app_engine):
    # geometry(MultiPolygon, 27700): neither check can find a row, because no such row can exist.
    for wkt in ("SRID=4326;MULTIPOLYGON(((0 0,1 0,1 1,0 0)))", "SRID=27700;POLYGON((0 0,1 0,1 1,0 0))"):
        with pytest.raises(sa.exc.DataError), app_engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO nrf.edp_edges (version, feature_id, edp_name, attributes, geom) "
                                 "VALUES (-1, 1, 'x', '{}', CAST(:g AS geometry))"), {"g": wkt})


def test_geometry_valid_warns_about_repairs_and_fails_on_invalid_rows(app_engine, tmp_path):
    results = checked(app_engine, "edp_edges", write_layer(tmp_path, "edp_edges", [{"EDPName": "A", "geometry": BOWTIE}]))
    assert outcome(results["geometry_valid"]) == (False, WARN)
    assert results["geometry_valid"].details["repaired_on_load"] == 1
    version = results["_version"]
    with app_engine.begin() as conn:  # an invalid row that did not come through the loader
        conn.execute(sa.text("INSERT INTO nrf.edp_edges (version, feature_id, edp_name, attributes, geom) VALUES "
                             "(:v, 99, 'B', '{}', ST_Multi(ST_GeomFromText(:wkt, 27700)))"), {"v": version, "wkt": BOWTIE.wkt})
    assert outcome({r.name: r for r in run_checks(app_engine, "edp_edges", version)}["geometry_valid"]) == (False, ERROR)


def test_geometry_bounds(app_engine, tmp_path):
    uri = write_layer(tmp_path, "edp_edges", [{"EDPName": "A", "geometry": square(dx=-700_000)}])
    assert outcome(checked(app_engine, "edp_edges", uri)["geometry_bounds"]) == (False, ERROR)


def test_key_not_null_refuses_the_load(app_engine, tmp_path):
    uri = write_layer(tmp_path, "nn_catchments", [{"OID": 1, "N2K_Site_N": None, "geometry": square()}])
    with pytest.raises(ReferenceDataError, match="key_not_null"):
        load_layer(app_engine, "nn_catchments", uri)
    with app_engine.connect() as conn:
        status, rows = conn.execute(sa.text(
            "SELECT status, (SELECT count(*) FROM nrf.nn_catchments n WHERE n.version = v.version) "
            "FROM nrf.reference_data_version v WHERE layer = 'nn_catchments' ORDER BY version DESC LIMIT 1")).one()
    assert (status, rows) == ("failed", 0)


def test_key_unique(app_engine, tmp_path):
    # Tables with a unique index refuse the load; rates_lookup has none and the check finds it.
    uri = write_layer(tmp_path, "coefficient_layer", [{"cromeid": "SAME", "geometry": square(i)} for i in range(2)])
    with pytest.raises(ReferenceDataError, match="key_unique"):
        load_layer(app_engine, "coefficient_layer", uri)
    rates = write_lookup(tmp_path, "rates_lookup", RATES_COLUMNS, [("X SAC", 2.4, 120), ("X SAC", 2.4, 120)])
    result = checked(app_engine, "rates_lookup", rates)["key_unique"]
    assert outcome(result) == (False, ERROR) and result.details["duplicates"]["nn_catchment"][0]["key"] == "X SAC"


def test_allowed_values_refuses_the_load(app_engine, tmp_path):
    uri = write_layer(tmp_path, "gcn_risk_zones", [{"RZ": "Purple", "geometry": square()}])
    with pytest.raises(ReferenceDataError, match="allowed_values"):
        load_layer(app_engine, "gcn_risk_zones", uri)


@pytest.mark.parametrize("value", ["51", "nan", "inf", "-0.1"])
def test_coefficient_range(app_engine, tmp_path, value):
    rows = [{"cromeid": "C1", "LU_CurrNcoeff": value, "LU_CurrPcoeff": 0.5, "N_ResiCoeff": 12.75, "P_ResiCoeff": 1.2,
             "geometry": square()}]
    result = checked(app_engine, "coefficient_layer", write_layer(tmp_path, "coefficient_layer", rows))
    assert outcome(result["coefficient_range"]) == (False, ERROR)


def test_nn_overlaps(app_engine, tmp_path):
    same_three = [{"OID": i, "N2K_Site_N": "X SAC", "geometry": square(dx=10 * i)} for i in range(3)]
    results = checked(app_engine, "nn_catchments", write_layer(tmp_path, "nn_catchments", same_three))
    assert outcome(results["nn_same_name_overlap"]) == (False, ERROR)
    two_names = [{"OID": i, "N2K_Site_N": f"{i} SAC", "geometry": square(dx=10 * i)} for i in range(2)]
    results = checked(app_engine, "nn_catchments", write_layer(tmp_path, "nn_catchments", two_names, name="two"))
    assert outcome(results["nn_cross_name_overlap"]) == (False, WARN)
    assert outcome(results["nn_same_name_overlap"]) == (True, ERROR)


def test_edp_edges_no_overlap(app_engine, tmp_path):
    rows = [{"EDPName": name, "geometry": square(dx=dx)} for name, dx in (("AreaA", 0), ("AreaB", 50))]
    assert outcome(checked(app_engine, "edp_edges", write_layer(tmp_path, "edp_edges", rows))["edp_edges_no_overlap"]) == (False, ERROR)


def test_wwtw_lookup_rules(app_engine, tmp_path):
    rows = [("Bure", "Works", "\t100", "27", 10, "1", "0.25"), ("Bure", "Works", "100", "x", 10, "1", "0.25"),
            (None, "Nameless", None, "1", 1, "1", "1")]
    results = checked(app_engine, "wwtw_lookup", write_lookup(tmp_path, "WwTw_lookup", WWTW_COLUMNS, rows))
    assert outcome(results["ptp_default_present"]) == (False, ERROR)
    issues = results["wwtw_code_issues"]
    assert outcome(issues) == (False, WARN)
    assert issues.details["rows_without_code"] == 1 and issues.details["duplicated_codes"][0]["rows"] == [1, 2]
    invalid = results["lookup_invalid_values"]
    assert outcome(invalid) == (False, WARN)
    assert [(v["key"], v["column"], v["raw"]) for v in invalid.details["values"]] == [("100", "n_conc_2025_2030", "x")]


def test_ptp_default_needs_numeric_concentrations(app_engine, tmp_path):
    rows = [(None, "Package Treatment Plant default", "141", "25", 25, "?", "4.5")]
    result = checked(app_engine, "wwtw_lookup", write_lookup(tmp_path, "WwTw_lookup", WWTW_COLUMNS, rows))["ptp_default_present"]
    assert outcome(result) == (False, ERROR) and result.details["missing"] == ["p_conc_2025_2030"]


def test_rates_positive(app_engine, tmp_path):
    rows = [("A SAC", 2.4, 120), ("B SAC", 0, 120), ("C SAC", "n/a", 120)]
    results = checked(app_engine, "rates_lookup", write_lookup(tmp_path, "rates_lookup", RATES_COLUMNS, rows))
    assert outcome(results["rates_positive"]) == (False, ERROR) and results["rates_positive"].details["count"] == 2
    assert outcome(results["lookup_invalid_values"]) == (False, WARN)


def test_unchanged_source_is_reused_unless_forced(app_engine, shipped_release):
    uri = str(REFERENCE_DIR / "edp_edges.gpkg")
    again = load_layer(app_engine, "edp_edges", uri)
    assert again.reused
    forced = load_layer(app_engine, "edp_edges", uri, force=True)
    assert not forced.reused and forced.version > again.version and forced.source_sha256 == again.source_sha256
