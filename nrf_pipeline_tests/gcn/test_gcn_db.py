"""The GCN assessment through PostGIS: baselines, row-order independence, the geometry cache, G9, the CLI.

Every test passes the versions of a release loaded here, so activations by other modules change
nothing; only the CLI reads the active release, and its fixture re-activates ours when needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest
import shapely
import sqlalchemy as sa

from nrf_pipeline.cli.assess_gcn import read_survey_ponds
from nrf_pipeline.gcn.output import write_psv_tables
from nrf_pipeline.gcn.assessment import extent
from nrf_pipeline.gcn.reader import GeometryCache, assess_gcn_for_site, read_gcn_reference
from nrf_pipeline.reference import (
    GCN_LAYERS, ActiveRelease, activate_release, build_release, load_layer, load_reference_set, run_checks,
)
from nrf_pipeline.reference.layers import layer_spec
from nrf_pipeline.reference.releases import active_release_id, release_members
from nrf_pipeline.geometry import InputFileError
from nrf_pipeline.sites import read_sites
from nrf_pipeline_tests.gcn.data import SITE_FILE, SURVEY_FILE, real_sites, real_survey_ponds
from nrf_pipeline_tests.gcn.test_gcn import close, frequencies, habitat_by_key, read_psv
from nrf_pipeline_tests.paths import EXPECTED_DIR, INPUTS_DIR, REFERENCE_DIR

ROUTES = ("survey", "no_survey")


def as_read(engine, release_id: int) -> ActiveRelease:
    """The release as an assessment would read it if it were active (only the versions are used)."""
    with engine.connect() as conn:
        return ActiveRelease(release_id, release_members(conn, release_id), {})


@pytest.fixture(scope="module")
def release(app_engine) -> ActiveRelease:
    return as_read(app_engine, load_reference_set(app_engine, REFERENCE_DIR, run_id="test-gcn-db"))


@pytest.fixture(scope="module")
def reversed_release(app_engine, release, tmp_path_factory) -> ActiveRelease:
    """The three GCN layers loaded again from copies with their rows reversed, so the database holds
    them in the opposite order, in a release of their own (built, not activated)."""
    directory = tmp_path_factory.mktemp("gcn_reversed")
    versions = {}
    for layer in GCN_LAYERS:
        spec = layer_spec(layer)
        frame = pyogrio.read_dataframe(REFERENCE_DIR / spec.source_file, layer=spec.source_layer)
        path = directory / spec.source_file
        pyogrio.write_dataframe(frame.iloc[::-1], path, layer=spec.source_layer)
        loaded = load_layer(app_engine, layer, str(path), run_id="test-gcn-db-reversed")
        assert not [c for c in run_checks(app_engine, layer, loaded.version) if c.blocks]
        versions[layer] = loaded.version
    built = build_release(app_engine, versions, base_release_id=release.release_id, run_id="test-gcn-db-reversed")
    assert built.approved
    assert all(built.members[layer] != release.versions[layer] for layer in GCN_LAYERS)
    return as_read(app_engine, built.release_id)


@pytest.fixture(scope="module")
def moved_release(app_engine, release, tmp_path_factory) -> ActiveRelease:
    """The risk zones loaded again with every geometry moved 50 m east, in a release of their own:
    a new version whose feature ids are those of `release` with other geometries (built, not activated)."""
    spec = layer_spec("gcn_risk_zones")
    frame = pyogrio.read_dataframe(REFERENCE_DIR / spec.source_file, layer=spec.source_layer)
    frame.geometry = frame.geometry.translate(xoff=50.0)
    path = tmp_path_factory.mktemp("gcn_moved") / spec.source_file
    pyogrio.write_dataframe(frame, path, layer=spec.source_layer)
    loaded = load_layer(app_engine, "gcn_risk_zones", str(path), run_id="test-gcn-db-moved")
    assert not [c for c in run_checks(app_engine, "gcn_risk_zones", loaded.version) if c.blocks]
    built = build_release(app_engine, {"gcn_risk_zones": loaded.version}, base_release_id=release.release_id,
                          run_id="test-gcn-db-moved")
    assert built.approved
    return as_read(app_engine, built.release_id)


def assess(engine, release: ActiveRelease, route: str, sites=None):
    survey = real_survey_ponds() if route == "survey" else None
    with engine.connect() as conn:
        return assess_gcn_for_site(conn, release, sites or real_sites(), "20260101", survey)


def assert_matches_baseline(directory: Path, route: str) -> None:
    """§6: habitat keys equal and areas within max(rel 1e-6, 0.01 m²); frequencies exactly equal."""
    expected_dir = EXPECTED_DIR / "gcn" / route
    got = habitat_by_key(read_psv(directory / "Habitat_Impact.psv"))
    expected = habitat_by_key(read_psv(expected_dir / "Habitat_Impact.psv"))
    assert set(got) == set(expected)
    assert not {k: (got[k], expected[k]) for k in expected if not close(got[k], expected[k])}
    got_freq = frequencies(read_psv(directory / "Ponds_Impact_Frequency.psv"))
    assert got_freq == frequencies(read_psv(expected_dir / "Ponds_Impact_Frequency.psv"))


@pytest.mark.parametrize("route", ROUTES)
def test_reproduces_baseline_from_postgis(app_engine, release, route, tmp_path):
    result = assess(app_engine, release, route)
    assert result.route == route.upper()
    write_psv_tables(result, tmp_path)
    assert_matches_baseline(tmp_path, route)


@pytest.mark.parametrize("route", ROUTES)
def test_database_row_order_changes_nothing(app_engine, release, reversed_release, route):
    # Equal to the last bit: every table, the pond detail and the EDP summaries.
    assert assess(app_engine, reversed_release, route) == assess(app_engine, release, route)


def test_reload_and_rollback_never_serve_cached_geometry_of_another_version(app_engine, release, moved_release):
    # The same feature ids in both versions, so only the version in the cache key tells them apart.
    with app_engine.connect() as conn:
        ids = [set(conn.execute(sa.text("SELECT feature_id FROM nrf.gcn_risk_zones WHERE version = :v"),
                                {"v": r.version("gcn_risk_zones")}).scalars()) for r in (release, moved_release)]
    assert ids[0] == ids[1]
    before = assess(app_engine, release, "survey")  # fills the process cache with the old geometries
    reloaded = assess(app_engine, moved_release, "survey")
    rolled_back = assess(app_engine, release, "survey")
    assert reloaded != before
    assert rolled_back == before


def test_warm_read_takes_the_geometries_from_the_cache(app_engine, release):
    cache = GeometryCache(max_bytes=2**30)
    with app_engine.connect() as conn:
        cold, warm = (read_gcn_reference(conn, release, extent(real_sites()), cache=cache) for _ in range(2))
    assert len(cache) == len(cold.risk_zones) + len(cold.ponds) + len(cold.edp_edges) > 0
    for layer in ("risk_zones", "ponds", "edp_edges"):  # the very same objects, in whatever row order
        assert {id(f.geometry) for f in getattr(cold, layer)} == {id(f.geometry) for f in getattr(warm, layer)}


def test_geometry_cache_drops_the_least_recently_used_first():
    a, b, c = (shapely.Point(i, i) for i in range(3))
    cache = GeometryCache(max_bytes=250)
    cache.put("a", a, 100)
    cache.put("b", b, 100)
    cache.get(["a"])  # now "b" is the least recently used
    cache.put("c", c, 100)  # 300 bytes > 250: "b" goes
    assert cache.get(["a", "b", "c"]) == [a, None, c]
    cache.put("big", a, 251)  # larger than the whole budget: used by the read, never kept
    assert cache.get(["big"]) == [None] and len(cache) == 2


def test_not_applicable_far_from_every_edp_edge(app_engine, release):
    (site,), errors = read_sites(INPUTS_DIR / "nutrients" / "no_edp_intersection.geojson", dwellings=0)
    assert not errors
    assert assess(app_engine, release, "no_survey", site.geometry) is None


@pytest.fixture
def active_release(app_engine, release) -> ActiveRelease:
    """Our release active for a test that reads the active one (another module may have switched)."""
    with app_engine.connect() as conn:
        if active_release_id(conn) != release.release_id:
            activate_release(app_engine, release.release_id, reason="test-gcn-db: the CLI reads the active release")
    return release


@pytest.mark.parametrize("route", ROUTES)
def test_cli_writes_the_four_tables(stack_settings, active_release, route, tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("DB_")}
    env |= {"NRF_DATABASE_URL": stack_settings.database_url(), "DB_SSL_MODE": "disable"}
    survey = ["--survey-ponds", str(SURVEY_FILE)] if route == "survey" else []
    cli = Path(sys.executable).parent / "nrf-pipeline"
    completed = subprocess.run(
        [str(cli), "assess", "gcn", str(SITE_FILE), *survey, "--output-dir", str(tmp_path), "--unique-ref", "CLI"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "Habitat_Impact.psv", "Habitat_Impact_EDPSplit.psv",
        "Ponds_Impact_Frequency.psv", "Ponds_Impact_Frequency_EDPSplit.psv",
    ]
    assert f"against reference data release {active_release.release_id}" in completed.stderr
    assert_matches_baseline(tmp_path, route)


def test_survey_pond_file_is_read_and_needs_pans(tmp_path):
    ponds = read_survey_ponds(SURVEY_FILE)
    assert len(ponds) == 559 and {p.pans for p in ponds} == {"P", "A", "NS"} and ponds[0].tmp_imp == "F"
    no_pans = tmp_path / "ponds.geojson"
    no_pans.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                       '{"TmpImp": "F"}, "geometry": {"type": "Polygon", '
                       '"coordinates": [[[1, 51], [1.001, 51], [1, 51.001], [1, 51]]]}}]}')
    with pytest.raises(InputFileError, match="no PANS field"):
        read_survey_ponds(no_pans)
