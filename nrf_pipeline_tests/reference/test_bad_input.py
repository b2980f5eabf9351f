"""Bad sources fail with a message naming the file and the rule, and never change what is active."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa
from shapely.geometry import LineString

from nrf_pipeline.reference import ReferenceDataError, load_layer, resolve_active_release, run_checks
from nrf_pipeline_tests.paths import REFERENCE_DIR
from nrf_pipeline_tests.reference.sources import square, write_layer


@pytest.fixture
def active_untouched(app_engine, shipped_release):
    with app_engine.connect() as conn:
        before = resolve_active_release(conn)
    yield
    with app_engine.connect() as conn:
        assert resolve_active_release(conn) == before


def failing_load(app_engine, layer, uri, rule, **kwargs) -> str:
    with pytest.raises(ReferenceDataError) as raised:
        load_layer(app_engine, layer, uri, **kwargs)
    message = str(raised.value)
    assert uri in message and rule in message, message
    return message


def test_missing_file(app_engine, tmp_path, active_untouched):
    failing_load(app_engine, "lpa_boundaries", str(tmp_path / "nope.gpkg"), "source_exists")


def test_unknown_layer_name(app_engine, active_untouched):
    uri = str(REFERENCE_DIR / "lpa_boundaries.gpkg")
    message = failing_load(app_engine, "lpa_boundaries", uri, "source_layer", source_layer="LPA_National")
    assert "LPA_National" in message


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_missing_crs_is_refused_unless_assumed(app_engine, tmp_path, active_untouched):
    uri = write_layer(tmp_path, "edp_edges", [{"EDPName": "AreaA", "geometry": square()}], crs=None)
    failing_load(app_engine, "edp_edges", uri, "crs")
    loaded = load_layer(app_engine, "edp_edges", uri, assume_crs="EPSG:27700")
    with app_engine.connect() as conn:
        notes = conn.execute(sa.text("SELECT notes FROM nrf.reference_data_version WHERE layer = 'edp_edges' "
                                     "AND version = :v"), {"v": loaded.version}).scalar_one()
    assert notes == "CRS assumed: EPSG:27700"


@pytest.mark.parametrize("crs", ["EPSG:4269", "EPSG:4326"])
def test_wrong_crs(app_engine, tmp_path, crs, active_untouched):
    # BNG metres declared as degrees: NAD83 is refused outright, WGS84 falls outside OSTN15.
    uri = write_layer(tmp_path, "edp_edges", [{"EDPName": "AreaA", "geometry": square()}], crs=crs)
    failing_load(app_engine, "edp_edges", uri, "crs")


def test_wrong_geometry_type(app_engine, tmp_path, active_untouched):
    uri = write_layer(tmp_path, "edp_edges", [{"EDPName": "AreaA", "geometry": LineString([(600000, 300000), (600100, 300100)])}])
    failing_load(app_engine, "edp_edges", uri, "geometry_type")


def test_truncated_file(app_engine, tmp_path, active_untouched):
    source = REFERENCE_DIR / "coefficient_layer.gpkg"
    truncated = tmp_path / "coefficient_layer.gpkg"
    shutil.copyfile(source, truncated)
    with truncated.open("r+b") as handle:
        handle.truncate(source.stat().st_size // 3)
    failing_load(app_engine, "coefficient_layer", str(truncated), "source_readable")


def test_non_numeric_coefficients_become_null_and_warn(app_engine, tmp_path, active_untouched):
    rows = [{"cromeid": f"T{i}", "LU_CurrNcoeff": value, "LU_CurrPcoeff": "0.5", "N_ResiCoeff": "12.75",
             "P_ResiCoeff": "1.2", "geometry": square(i)} for i, value in enumerate(["12.79", "twelve", ""])]
    uri = write_layer(tmp_path, "coefficient_layer", rows)
    loaded = load_layer(app_engine, "coefficient_layer", uri)
    results = {r.name: r for r in run_checks(app_engine, "coefficient_layer", loaded.version)}
    check = results["coefficient_range"]
    assert (check.passed, check.severity) == (False, "WARN")
    assert check.details["rows_with_null"] == 2 and check.details["non_numeric_on_load"] == {"lu_curr_n_coeff": 2}
    with app_engine.connect() as conn:
        typed = conn.execute(sa.text("SELECT lu_curr_n_coeff, attributes ->> 'LU_CurrNcoeff' FROM nrf.coefficient_layer "
                                     "WHERE version = :v ORDER BY feature_id"), {"v": loaded.version}).all()
    assert typed == [(12.79, "12.79"), (None, "twelve"), (None, "")]
