"""Nutrient assessment end to end: input files, PostGIS spatial step, calculator, CSV, CLI.

Expected values come from the baseline CSVs (compared with the rules of nutrient-method.md §6), the
worked example §5.5, closed-form answers on hand-built synthetic layers, or an independent shapely
overlay written out here; never from a previous run of the code.

The shipped reference set is loaded once through the real loader; other test modules may activate
other releases, so every in-process run pins the release it loaded. Hand-built layers and a
reversed copy of the shipped rows live in a separate database of the same cluster, which no other
module touches.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
import sqlalchemy as sa
from shapely.affinity import translate
from shapely.geometry import LineString, Polygon, box, mapping

from nrf_pipeline.cli import main as cli_main
from nrf_pipeline.db.models import LAYER_TABLES, LOOKUP_TABLES
from nrf_pipeline.devstack.liquibase import Liquibase
from nrf_pipeline.nutrient.assess import assess_sites
from nrf_pipeline.nutrient.methods import METHODS, get_method
from nrf_pipeline.nutrient.output import write_csv
from nrf_pipeline.reference import NUTRIENT_LAYERS, ActiveRelease, load_reference_set
from nrf_pipeline.settings import get_settings
from nrf_pipeline.sites import Site, read_sites
from nrf_pipeline_tests.paths import EXPECTED_DIR, INPUTS_DIR, REFERENCE_DIR

pytestmark = pytest.mark.integration

BNW = INPUTS_DIR / "nutrients" / "BnW_cleaned_110925"
BNW_SMALL = {
    "shp": INPUTS_DIR / "nutrients" / "BnW_small_under_1_hectare",
    "geojson": INPUTS_DIR / "nutrients" / "BnW_small_under_1_hectare_geojson" / "BnW_small_under_1_hectare.geojson",
    "zip": INPUTS_DIR / "nutrients" / "BnW_small_under_1_hectare.zip",
}
BASELINE_VERSIONS = ("iat-2025-10", "nrf-2026-04")
# §6: the columns a baseline can check end to end with the synthetic coefficient layer.
END_TO_END_COLUMNS = (
    "id", "Name", "Dwel_Cat", "Source", "Dwellings", "Dev_Area_Ha", "NN_Catchment", "Dev_SubCatchment",
    "Majority_LPA", "Majority_WwTw_ID", "WwTW_name", "WwTw_SubCatchment", "Occ_Rate", "Water_Usage_L_Day",
    "Litres_used", "Nitrogen_2025_2030", "Nitrogen_2030_onwards", "Phosphorus_2025_2030",
    "Phosphorus_2030_onwards", "N_WwTW_Temp", "P_WwTW_Temp", "N_WwTW_Perm", "P_WwTW_Perm",
    "shape_area", "dwelling_density",
)
SYNTHETIC_DB = "nrf_nutrient_e2e"


def round2(x: float) -> float:
    return float(np.round(x, 2))


def csv_text(results) -> str:
    out = io.StringIO()
    write_csv(results, out)
    return out.getvalue()


def rows_by_rlb(text: str) -> dict[str, dict[str, str]]:
    return {row["RLB_ID"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}


def read_expected(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {row["RLB_ID"]: row for row in csv.DictReader(f)}


def same_cell(expected: str, got: str) -> bool:
    """§6: numbers within 1e-6 (blank only against blank); strings equal line by line after
    stripping each line."""
    if expected == "" or got == "":
        return expected == got
    try:
        return abs(float(expected) - float(got)) <= 1e-6
    except ValueError:
        return [line.strip() for line in expected.splitlines()] == [line.strip() for line in got.splitlines()]


def release_of(conn: sa.Connection, release_id: int) -> ActiveRelease:
    """Pin a release by id, as resolve_active_release would describe it once active."""
    rows = conn.execute(
        sa.text(
            "SELECT l.layer, l.version, v.source_sha256 FROM nrf.reference_data_release_layer l "
            "JOIN nrf.reference_data_version v USING (layer, version) WHERE l.release_id = :r"
        ),
        {"r": release_id},
    ).all()
    return ActiveRelease(release_id, {r.layer: r.version for r in rows}, {r.layer: r.source_sha256 for r in rows})


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def release(app_engine) -> ActiveRelease:
    release_id = load_reference_set(app_engine, REFERENCE_DIR)
    with app_engine.connect() as conn:
        return release_of(conn, release_id)


@pytest.fixture(scope="module")
def bnw_sites() -> list[Site]:
    sites, errors = read_sites(BNW)
    assert (len(sites), errors) == (245, [])
    return sites


@pytest.fixture(scope="module")
def bnw_runs(app_engine, release, bnw_sites):
    """BnW as ONE batch under each method version (the rates group means need the whole batch)."""
    return {name: assess_sites(app_engine, bnw_sites, get_method(name), release) for name in METHODS}


@pytest.fixture(scope="module")
def synthetic_db(stack, admin_engine):
    """A second database of the same cluster with the Liquibase schema; (superuser, app) engines."""
    with admin_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {SYNTHETIC_DB}"))
        conn.execute(sa.text(f"CREATE DATABASE {SYNTHETIC_DB}"))
    pg = stack.postgres
    Liquibase(f"jdbc:postgresql://{pg.host}:{pg.port}/{SYNTHETIC_DB}", pg.user).update()
    admin = sa.create_engine(sa.make_url(stack.superuser_url).set(database=SYNTHETIC_DB))
    app_url = sa.make_url(f"postgresql+psycopg2://{stack.env()['DB_USER']}@{pg.host}:{pg.port}/{SYNTHETIC_DB}")
    app = sa.create_engine(app_url)
    yield admin, app
    app.dispose()
    admin.dispose()
    with admin_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"DROP DATABASE {SYNTHETIC_DB} WITH (FORCE)"))


def register_release(conn: sa.Connection, versions: dict[str, int], rows: dict[str, int]) -> int:
    """Version rows and an approved release for layer rows inserted directly."""
    for layer, version in versions.items():
        conn.execute(
            sa.text(
                "INSERT INTO nrf.reference_data_version (layer, version, status, row_count, qc_status) "
                "VALUES (:layer, :version, 'loaded', :n, 'passed')"
            ),
            {"layer": layer, "version": version, "n": rows[layer]},
        )
    release_id = conn.execute(
        sa.text("INSERT INTO nrf.reference_data_release (status) VALUES ('approved') RETURNING release_id")
    ).scalar_one()
    for layer, version in versions.items():
        conn.execute(
            sa.text("INSERT INTO nrf.reference_data_release_layer VALUES (:r, :layer, :version)"),
            {"r": release_id, "layer": layer, "version": version},
        )
    return release_id


# Hand-built layers, in metres from an origin in Norfolk. Coefficients: (C_N, C_P, R_N, R_P).
X0, Y0 = 600_000, 300_000


def rel_box(x1, y1, x2, y2) -> Polygon:
    return box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


SYN_COEFFICIENTS = {
    "SYN1": (rel_box(0, 0, 100, 100), (20.0, 0.5, 12.0, 1.0)),
    "SYN2": (rel_box(100, 0, 200, 100), (5.0, 0.25, 14.0, 1.5)),  # x 200–300 is a gap
    "SYN3": (rel_box(0, 200, 200, 400), (10.0, 0.3, 15.0, 1.2)),
    "SYN4": (rel_box(0, 500, 160, 600), (20.0, 0.5, 12.0, 1.0)),
}
SYN_NN = {  # oid -> (name, polygon); 30 and 31 overlap over x 60–100 (D4)
    10: ("Alpha SAC", rel_box(0, 0, 150, 100)),
    12: ("Alpha SAC", rel_box(0, 200, 200, 400)),
    20: ("Beta SAC", rel_box(150, 0, 300, 100)),
    30: ("Gamma SAC", rel_box(0, 500, 100, 600)),
    31: ("Gamma SAC", rel_box(60, 500, 160, 600)),
}
SYN_WWTW = {500: rel_box(0, 0, 180, 1000), 600: rel_box(180, 0, 400, 1000)}
SYN_LPA = {"Bbb District": rel_box(0, 0, 100, 1000), "Aaa District": rel_box(100, 0, 400, 1000)}
SYN_SUB = {"Opcat One": rel_box(0, 0, 400, 1000)}
SYN_WWTW_LOOKUP = [
    {"WwTW_code": "500", "WwTW_name": "Works A", "Subcatchment_name": "Sub A", "Nitrogen_2025_2030": "10",
     "Nitrogen_2030_onwards": 8.0, "Phosphorus_2025_2030": "1", "Phosphorus_2030_onwards": "0.5"},
    {"WwTW_code": "\t600", "WwTW_name": "Works B ", "Subcatchment_name": "Sub B", "Nitrogen_2025_2030": "12",
     "Nitrogen_2030_onwards": 9.0, "Phosphorus_2025_2030": "2", "Phosphorus_2030_onwards": "f"},
    {"WwTW_code": "141", "WwTW_name": "Package Treatment Plant default", "Subcatchment_name": None,
     "Nitrogen_2025_2030": "25", "Nitrogen_2030_onwards": 25.0, "Phosphorus_2025_2030": "4.5",
     "Phosphorus_2030_onwards": "4.5"},
]
SYN_RATES = [
    {"NN_Catchment": "Alpha SAC", "Occ_Rate": 2.0, "Water_Usage_L_Day": 100.0},
    {"NN_Catchment": "Beta SAC", "Occ_Rate": 3.0, "Water_Usage_L_Day": 150.0},
    {"NN_Catchment": "Gamma SAC", "Occ_Rate": 2.4, "Water_Usage_L_Day": 120.0},
]
# name -> (site, dwellings)
SYN_SITES = {
    "two-catchments": (rel_box(50, 20, 260, 60), 10),  # two parcels, two catchments, a gap
    "gs-0.995ha": (rel_box(0, 200, 99.5, 300), 10),  # 9,950 m²: Dev_Area_Ha 1.00
    "gs-0.994ha": (rel_box(0, 300, 99.4, 400), 10),  # 9,940 m²: 0.99
    "gs-1.00ha": (rel_box(100, 200, 200, 300), 10),  # touches the Bbb LPA only along x = 100
    "negative-suds": (rel_box(0, 0, 50, 50), 60),
    "zero-dwellings": (rel_box(0, 50, 50, 100), 0),
    "nn-overlap": (rel_box(40, 520, 120, 580), 10),
    "lpa-tie": (rel_box(80, 800, 120, 850), 10),
    "wwtw-tie": (rel_box(160, 800, 200, 850), 10),
    "outside-nn": (rel_box(300, 800, 350, 850), 10),
    "touching-only": (rel_box(300, 1000, 350, 1050), 10),  # touches WwTW 600, LPA, sub-catchment
}


def _insert_layer(conn, table: str, rows: list[dict]) -> None:
    columns = list(rows[0])
    values = ", ".join(
        "ST_Multi(ST_GeomFromWKB(:geom, 27700))" if c == "geom" else
        "CAST(:attributes AS jsonb)" if c == "attributes" else f":{c}"
        for c in columns
    )
    conn.execute(sa.text(f"INSERT INTO nrf.{table} ({', '.join(columns)}) VALUES ({values})"), rows)


def _spatial_rows(features: list[tuple[dict, Polygon]]) -> list[dict]:
    return [
        {"version": 1, "feature_id": i, "attributes": json.dumps({}), "geom": shapely.to_wkb(geom), **typed}
        for i, (typed, geom) in enumerate(features, start=1)
    ]


@pytest.fixture(scope="module")
def synthetic_release(synthetic_db) -> ActiveRelease:
    admin, app = synthetic_db
    layers = {
        "coefficient_layer": _spatial_rows([
            ({"crome_id": cid, "lu_curr_n_coeff": cn, "lu_curr_p_coeff": cp, "n_resi_coeff": rn, "p_resi_coeff": rp}, g)
            for cid, (g, (cn, cp, rn, rp)) in SYN_COEFFICIENTS.items()
        ]),
        "nn_catchments": _spatial_rows([({"oid": oid, "n2k_site_name": n}, g) for oid, (n, g) in SYN_NN.items()]),
        "wwtw_catchments": _spatial_rows([({"wwtw_id": code}, g) for code, g in SYN_WWTW.items()]),
        "lpa_boundaries": _spatial_rows([({"name": name}, g) for name, g in SYN_LPA.items()]),
        "subcatchments": _spatial_rows([({"opcat_name": name}, g) for name, g in SYN_SUB.items()]),
    }
    lookups = {
        # The typed columns stay empty: the assessment reads the raw values in `attributes`.
        "wwtw_lookup": [{"version": 1, "source_row": i, "attributes": json.dumps(r)}
                        for i, r in enumerate(SYN_WWTW_LOOKUP, start=1)],
        "rates_lookup": [{"version": 1, "source_row": i, "attributes": json.dumps(r), "nn_catchment": r["NN_Catchment"]}
                         for i, r in enumerate(SYN_RATES, start=1)],
    }
    with admin.begin() as conn:
        for table, rows in {**layers, **lookups}.items():
            _insert_layer(conn, table, rows)
        counts = {table: len(rows) for table, rows in {**layers, **lookups}.items()}
        release_id = register_release(conn, dict.fromkeys(counts, 1), counts)
    with app.connect() as conn:
        return release_of(conn, release_id)


@pytest.fixture(scope="module")
def reversed_release(synthetic_db, app_engine, release) -> ActiveRelease:
    """The shipped rows copied into the second database as version 2, in reversed source order
    (feature ids reversed too); lookups keep their source_row (their order is meaning, first row
    wins) but are inserted last row first. Activated there: no other module uses that database."""
    admin, app = synthetic_db
    source = app_engine.raw_connection()
    target = admin.raw_connection()
    try:
        with source.cursor() as src, target.cursor() as dst:
            for layer in NUTRIENT_LAYERS:
                table = (LAYER_TABLES | LOOKUP_TABLES)[layer].__table__
                columns = [c.name for c in table.columns]
                order = "feature_id" if "feature_id" in columns else "source_row"
                select = ", ".join(
                    "2" if c == "version" else "count(*) OVER () + 1 - feature_id" if c == "feature_id" else c
                    for c in columns
                )
                query = src.mogrify(
                    f"SELECT {select} FROM nrf.{layer} WHERE version = %s ORDER BY {order} DESC",
                    (release.versions[layer],),
                ).decode()
                buffer = io.StringIO()
                src.copy_expert(f"COPY ({query}) TO STDOUT", buffer)
                buffer.seek(0)
                dst.copy_expert(f"COPY nrf.{layer} ({', '.join(columns)}) FROM STDIN", buffer)
        target.commit()
    finally:
        source.close()
        target.close()
    with admin.begin() as conn:
        counts = {
            layer: conn.execute(sa.text(f"SELECT count(*) FROM nrf.{layer} WHERE version = 2")).scalar_one()
            for layer in NUTRIENT_LAYERS
        }
        release_id = register_release(conn, dict.fromkeys(NUTRIENT_LAYERS, 2), counts)
        conn.execute(sa.text("ANALYZE"))
        conn.execute(
            sa.text("INSERT INTO nrf.reference_data_activation (release_id, action) VALUES (:r, 'activate')"),
            {"r": release_id},
        )
    with app.connect() as conn:
        return release_of(conn, release_id)


# ---------------------------------------------------------------------------------------------
# Broads & Wensum: the baselines


@pytest.mark.parametrize("version", BASELINE_VERSIONS)
def test_bnw_batch_matches_baseline(bnw_runs, release, version):
    run = bnw_runs[version]
    assert len(run.results) == 245
    assert len(run.kept) == 217  # §2.8
    assert run.release.release_id == release.release_id and set(run.data_versions) == set(NUTRIENT_LAYERS)
    assert {r.method_version for r in run.results} == {version}
    got = rows_by_rlb(csv_text(run.kept))
    expected = read_expected(EXPECTED_DIR / "nutrients" / version / "BroadsWensum_IAT_odd_rlb_ids.csv")
    assert {rlb for rlb in got if int(rlb) % 2} == set(expected)
    mismatches = [
        (rlb, column, row[column], got[rlb][column])
        for rlb, row in expected.items()
        for column in END_TO_END_COLUMNS
        if column in row and not same_cell(row[column], got[rlb][column])
    ]
    assert mismatches == []


def test_bnw_rlb_207_rates_missing_convention(bnw_runs):
    """§6 note: RLB 207 (no rates in its group) has blank loads under iat-2025-10, 0.0 under
    nrf-2026-04."""
    legacy = next(r for r in bnw_runs["iat-2025-10"].results if r.rlb_id == 207)
    current = next(r for r in bnw_runs["nrf-2026-04"].results if r.rlb_id == 207)
    assert math.isnan(legacy.n_wwtw_perm) and current.n_wwtw_perm == 0.0
    assert "RATES_MISSING" in legacy.flags and "RATES_MISSING" in current.flags


# §5.5: (AreaInNNCatchment, N/P uplift, N/P post-SuDS, N/P perm, N/P total) on the synthetic layer.
SMALL_EXPECTED = {
    "iat-2025-09": (0.03, -0.24, 0.02, -0.30, 0.02, 2.84, 0.11, 3.05, 0.15),
    "iat-2025-10": (0.03, -0.24, 0.02, -0.30, 0.02, 2.56, 0.09, 2.71, 0.14),
    "nrf-2026-04": (0.03, -0.24, 0.02, -0.24, 0.02, 2.56, 0.09, 2.78, 0.14),
}


@pytest.mark.parametrize("container", BNW_SMALL)
def test_bnw_small_in_every_container(app_engine, release, container):
    sites, errors = read_sites(BNW_SMALL[container])
    assert errors == [] and len(sites) == 1
    for version, values in SMALL_EXPECTED.items():
        (r,) = assess_sites(app_engine, sites, get_method(version), release).kept
        got = (r.area_in_nn_catchment, r.n_lu_uplift, r.p_lu_uplift, r.n_lu_post_suds, r.p_lu_post_suds,
               r.n_wwtw_perm, r.p_wwtw_perm, r.n_total, r.p_total)
        assert got == pytest.approx(values, abs=1e-9), version
        assert (r.nn_catchment, r.rates_source) == ("River Wensum SAC", "catchment")
        if version in BASELINE_VERSIONS:
            (expected,) = read_expected(EXPECTED_DIR / "nutrients" / version / "BnW_small_under_1_hectare.csv").values()
            (row,) = rows_by_rlb(csv_text([r])).values()
            assert [c for c in END_TO_END_COLUMNS if c in expected and not same_cell(expected[c], row[c])] == []


# ---------------------------------------------------------------------------------------------
# Land use against an independent shapely overlay of the shipped (synthetic) coefficient layer


def _independent_land_use(sites, method):
    """Pieces r ∩ c ∩ n (and, for D4, same-name overlap pieces) with shapely, then §2.4 literally."""
    coeff = pyogrio.read_dataframe(REFERENCE_DIR / "coefficient_layer.gpkg")
    nn = pyogrio.read_dataframe(REFERENCE_DIR / "nn_catchments.gpkg")
    nn_geoms = shapely.force_2d(nn.geometry.values)
    tree = shapely.STRtree(coeff.geometry.values)
    coefficients = coeff[["LU_CurrNcoeff", "LU_CurrPcoeff", "N_ResiCoeff", "P_ResiCoeff"]].to_numpy(float)
    shapely.prepare(nn_geoms)
    overlaps = {
        (i, j): shapely.intersection(nn_geoms[i], nn_geoms[j])
        for i in range(len(nn)) for j in range(len(nn))
        if nn.N2K_Site_N[i] == nn.N2K_Site_N[j] and nn.OID[i] < nn.OID[j]
    } if method.nn_overlap_counted_once else {}
    results = {}
    for site in sites:
        touched = {n for n in range(len(nn)) if shapely.intersects(nn_geoms[n], site.geometry)}
        zones = [(1.0, n, site.geometry) for n in touched]
        zones += [(-1.0, i, shapely.intersection(site.geometry, g))
                  for (i, j), g in overlaps.items() if {i, j} <= touched]
        greenspace = method.greenspace and round2(site.geometry.area / 10_000) >= 1.0
        area, n_terms, p_terms, names = [], [], [], set()
        for sign, n, zone in zones:
            for c in tree.query(zone, predicate="intersects"):
                r_c = shapely.intersection(zone, coeff.geometry.values[c])
                a = shapely.intersection(r_c, nn_geoms[n]).area / 10_000
                if a <= 0:
                    continue
                cn, cp, rn, rp = coefficients[c]
                if greenspace:
                    rn, rp = rn * 0.8 + 0.2 * 3.0, rp * 0.8 + 0.2 * 0.2
                area.append(sign * a)
                n_terms.append(sign * round2((rn - cn) * a))
                p_terms.append(sign * round2((rp - cp) * a))
                names.add(nn.N2K_Site_N[n])
        if names:
            results[site.rlb_id] = (round2(math.fsum(area)), math.fsum(n_terms), math.fsum(p_terms))
    return results


@pytest.mark.parametrize("version", BASELINE_VERSIONS)
def test_bnw_land_use_and_totals_against_independent_overlay(bnw_runs, bnw_sites, version):
    method = get_method(version)
    expected = _independent_land_use(bnw_sites, method)
    run = bnw_runs[version]
    got = {r.rlb_id: (r.area_in_nn_catchment, r.n_lu_uplift, r.p_lu_uplift) for r in run.results
           if not math.isnan(r.area_in_nn_catchment)}
    assert got.keys() == expected.keys()
    assert [k for k in got if got[k] != pytest.approx(expected[k], abs=1e-6)] == []
    suds_sites = 0
    for r, site in zip(run.results, bnw_sites):
        # Totals from the independent uplift and the permanent load recomputed from the row's own
        # rates and concentrations (§2.6.4, §2.7).
        _, n_up, p_up = expected.get(site.rlb_id, (math.nan, math.nan, math.nan))
        f = 0.25 if method.suds_min_dwellings is None or site.dwellings >= 50 else 0.0
        suds_sites += f > 0 and not math.isnan(n_up)
        annual = site.dwellings * np.nan_to_num(r.occ_rate) * np.nan_to_num(r.water_usage_l_day) * 365.25
        for uplift, conc, total in ((n_up, r.nitrogen_2030_onwards, r.n_total),
                                    (p_up, r.phosphorus_2030_onwards, r.p_total)):
            base = np.nan_to_num(round2(uplift - abs(uplift) * f)) + annual * (np.nan_to_num(conc) / 1e6) * 0.9
            assert total == pytest.approx(round2(base + abs(base) * 0.2), abs=1e-9), (site.rlb_id, total)
    assert suds_sites > 0


def test_determinism_under_reversed_row_order(bnw_runs, bnw_sites, synthetic_db, reversed_release):
    """The same rows inserted in reverse (other heap and index order) give a byte-identical CSV."""
    _, app = synthetic_db
    for version in BASELINE_VERSIONS:
        again = assess_sites(app, bnw_sites, get_method(version), reversed_release)
        assert csv_text(again.kept) == csv_text(bnw_runs[version].kept)


# ---------------------------------------------------------------------------------------------
# Hand-built geometric cases with closed-form answers


def _synthetic_sites(names=SYN_SITES) -> list[Site]:
    return [
        Site(rlb_id=i, geometry=SYN_SITES[name][0], dwellings=SYN_SITES[name][1], name=name)
        for i, name in enumerate(names, start=1)
    ]


@pytest.fixture(scope="module")
def synthetic_runs(synthetic_db, synthetic_release):
    _, app = synthetic_db
    return {
        name: {r.name: r for r in assess_sites(app, _synthetic_sites(), get_method(name), synthetic_release).results}
        for name in METHODS
    }


def gs(resi: float, fixed: float) -> float:
    return resi * (1 - 0.2) + 0.2 * fixed


# name -> (AreaInNNCatchment, N uplift, P uplift) per method, from the rectangles above.
LAND_USE = {
    "two-catchments": {m: (0.6, -1.6 + 1.8 + 1.8, 0.1 + 0.25 + 0.25) for m in METHODS},
    "gs-0.995ha": {
        "iat-2025-09": (1.0, round2(5 * 0.995), round2(0.9 * 0.995)),
        "iat-2025-10": (1.0, round2(5 * 0.995), round2(0.9 * 0.995)),
        "nrf-2026-04": (1.0, round2((gs(15, 3.0) - 10) * 0.995), round2((gs(1.2, 0.2) - 0.3) * 0.995)),
    },
    "gs-0.994ha": {m: (0.99, round2(5 * 0.994), round2(0.9 * 0.994)) for m in METHODS},
    "gs-1.00ha": {
        "iat-2025-09": (1.0, 5.0, 0.9),
        "iat-2025-10": (1.0, 5.0, 0.9),
        "nrf-2026-04": (1.0, round2(gs(15, 3.0) - 10), round2(gs(1.2, 0.2) - 0.3)),
    },
    "negative-suds": {m: (0.25, -2.0, 0.12) for m in METHODS},  # P: round2(0.125) = 0.12
    "zero-dwellings": {m: (0.25, -2.0, 0.12) for m in METHODS},
    # Gamma 30 and 31 both hold x 60–100: 0.36 + 0.36 ha legacy, minus the 0.24 ha overlap (D4).
    "nn-overlap": {
        "iat-2025-09": (0.72, 2 * -2.88, 2 * 0.18),
        "iat-2025-10": (0.72, 2 * -2.88, 2 * 0.18),
        "nrf-2026-04": (0.48, 2 * -2.88 + 1.92, 2 * 0.18 - 0.12),
    },
}


@pytest.mark.parametrize("version", list(METHODS))
def test_synthetic_land_use_closed_form(synthetic_runs, version):
    results = synthetic_runs[version]
    for name, cases in LAND_USE.items():
        r = results[name]
        assert (r.area_in_nn_catchment, r.n_lu_uplift, r.p_lu_uplift) == pytest.approx(cases[version], abs=1e-9), name
    assert results["two-catchments"].nn_catchment == "Alpha SAC; Beta SAC"
    assert "MULTI_CATCHMENT" in results["two-catchments"].flags
    assert ("NN_OVERLAP_COUNTED_ONCE" in results["nn-overlap"].flags) == (version == "nrf-2026-04")
    greenspace = {name for name, r in results.items() if "GREENSPACE_APPLIED" in r.flags}
    assert greenspace == ({"gs-0.995ha", "gs-1.00ha"} if version == "nrf-2026-04" else set())
    for name in ("lpa-tie", "wwtw-tie", "outside-nn"):
        assert math.isnan(results[name].area_in_nn_catchment) and results[name].nn_catchment is None


@pytest.mark.parametrize("version", list(METHODS))
def test_synthetic_suds_zero_dwellings_and_totals(synthetic_runs, version):
    results = synthetic_runs[version]
    legacy = version != "nrf-2026-04"
    negative = results["negative-suds"]  # 60 dwellings: SuDS in every version
    assert (negative.n_lu_post_suds, negative.p_lu_post_suds) == (-2.5, round2(0.12 - 0.03))
    zero = results["zero-dwellings"]
    assert (zero.litres_used, zero.dwelling_density) == (0.0, 0.0)
    assert zero.n_lu_post_suds == (-2.5 if legacy else -2.0)  # SuDS needs 50 dwellings in nrf-2026-04
    assert zero.n_total == round2(zero.n_lu_post_suds * 0.8)  # buffer on |base|: −2.5 → −2.0
    assert (zero.n_wwtw_perm, zero.p_wwtw_perm) == (0.0, 0.0)


@pytest.mark.parametrize("version", list(METHODS))
def test_synthetic_majority_assignment(synthetic_runs, version):
    results = synthetic_runs[version]
    majority = {name: (r.majority_wwtw_id, r.majority_lpa, r.dev_subcatchment) for name, r in results.items()}
    assert majority["two-catchments"] == (500, "Aaa District", "Opcat One")
    assert majority["gs-1.00ha"][1] == "Aaa District"  # touching Bbb along an edge is no candidate (D5)
    assert majority["lpa-tie"][1] == "Aaa District"  # equal areas: code-point order (D5)
    assert majority["wwtw-tie"][0] == 500  # equal areas: numeric order (D5)
    outside = results["outside-nn"]
    assert (outside.majority_wwtw_id, outside.wwtw_name, outside.wwtw_subcatchment) == (600, "Works B ", "Sub B")
    assert "LOOKUP_VALUE_INVALID:Phosphorus_2030_onwards" in outside.flags
    # Only touching features: no candidate at all, so the defaults (D5), and filter rule 2.
    touching = results["touching-only"]
    assert majority["touching-only"] == (141, "UNKNOWN", None)
    assert (touching.wwtw_name, touching.wwtw_subcatchment) == ("Package Treatment Plant default", None)
    assert "PTP_DEFAULT" in touching.flags
    assert touching.kept == (version == "iat-2025-09")
    shares = [(s.name, s.catchment_id, round(s.area_m2, 6)) for s in results["two-catchments"].catchment_shares]
    assert shares == [("Alpha SAC", 10, 4000.0), ("Beta SAC", 20, 4400.0)]
    # Gamma 30 ∪ 31 holds the whole site once; catchment_id is the smallest OID of the name.
    overlap = [(s.name, s.catchment_id, round(s.area_m2, 6)) for s in results["nn-overlap"].catchment_shares]
    assert overlap == [("Gamma SAC", 30, 4800.0)]


def test_lone_site_rates_fallback(synthetic_db, synthetic_release):
    """D2: alone, a two-catchment site takes the rates of its larger catchment (Beta, 4,400 m² against
    4,000), a site outside NN the national default; legacy versions leave the rates missing."""
    _, app = synthetic_db
    nrf, legacy = get_method("nrf-2026-04"), get_method("iat-2025-10")
    (two,) = assess_sites(app, _synthetic_sites(["two-catchments"]), nrf, synthetic_release).results
    assert (two.occ_rate, two.water_usage_l_day, two.rates_source) == (3.0, 150.0, "largest_overlap_catchment")
    assert "RATES_FALLBACK" in two.flags
    assert two.litres_used == 10 * 3.0 * 150.0
    (outside,) = assess_sites(app, _synthetic_sites(["outside-nn"]), nrf, synthetic_release).results
    assert (outside.occ_rate, outside.water_usage_l_day, outside.rates_source) == (2.4, 120.0, "national_default")
    (two_legacy,) = assess_sites(app, _synthetic_sites(["two-catchments"]), legacy, synthetic_release).results
    assert math.isnan(two_legacy.occ_rate) and "RATES_MISSING" in two_legacy.flags


# ---------------------------------------------------------------------------------------------
# Bad input and the command line


def _feature(geometry, dwellings, name):
    geojson = None if geometry is None else mapping(geometry)
    return {"type": "Feature", "properties": {"Name": name, "Dwellings": dwellings}, "geometry": geojson}


def _geojson(path: Path, features, crs="urn:ogc:def:crs:EPSG::27700") -> Path:
    collection = {"type": "FeatureCollection", "features": features}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(collection))
    return path


def _small_site_box(dx: float) -> Polygon:
    """A 20 m square beside the BnW_small site (River Wensum SAC, works in the lookup)."""
    (site,), _ = read_sites(BNW_SMALL["geojson"])
    x, y = site.geometry.centroid.coords[0]
    return box(x + dx, y, x + dx + 20, y + 20)


def _run_cli(monkeypatch, capsys, database_url: str, *args) -> tuple[int, str]:
    monkeypatch.setenv("NRF_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        code = cli_main(["assess", "nutrient", *map(str, args)])
    finally:
        get_settings.cache_clear()
    return code, capsys.readouterr().err


@pytest.fixture
def reversed_db_url(synthetic_db, reversed_release) -> str:
    _, app = synthetic_db
    return app.url.render_as_string(hide_password=False)


def test_bad_sites_are_named_and_the_rest_assessed(tmp_path, monkeypatch, capsys, reversed_db_url):
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    good = _small_site_box(0)
    path = _geojson(tmp_path / "mixed.geojson", [
        _feature(good, 5, "good one"),
        _feature(translate(bowtie, *good.bounds[:2]), 5, "bow tie"),
        _feature(LineString([good.bounds[:2], good.bounds[2:]]), 5, "a line"),
        _feature(_small_site_box(30), -3, "negative dwellings"),
        _feature(None, 5, "no geometry"),
        _feature(_small_site_box(60), 2, "good two"),
    ])
    out = tmp_path / "out.csv"
    code, err = _run_cli(monkeypatch, capsys, reversed_db_url, path, "--output", out)
    assert code == 1
    for rlb_id, name, code_name in ((2, "bow tie", "invalid_geometry"), (3, "a line", "unsupported_geometry_type"),
                                    (4, "negative dwellings", "invalid_housing_units"),
                                    (5, "no geometry", "missing_boundary")):
        assert f"site RLB_ID {rlb_id} (name {name!r})" in err and code_name in err
    rows = rows_by_rlb(out.read_text())
    assert list(rows) == ["1", "6"]
    assert [rows[k]["Name"] for k in rows] == ["good one", "good two"]


@pytest.mark.parametrize(
    "case, message",
    [("empty", "contains no sites"), ("unsupported_geojson_crs", "unsupported GeoJSON crs"),
     ("no_crs", "has no CRS"), ("geographic_crs", "unsupported geographic CRS")],
)
def test_bad_files_fail_clearly(tmp_path, monkeypatch, capsys, reversed_db_url, case, message):
    if case == "empty":
        path = _geojson(tmp_path / "empty.geojson", [])
    elif case == "unsupported_geojson_crs":
        path = _geojson(tmp_path / "webmercator.geojson", [_feature(box(0, 0, 10, 10), 1, "x")], crs="EPSG:3857")
    else:
        path = tmp_path / "site.shp"
        frame = pyogrio.read_dataframe(BNW_SMALL["shp"])
        pyogrio.write_dataframe(frame.set_crs("EPSG:4277", allow_override=True), path)  # OSGB36 lon/lat
        if case == "no_crs":
            path.with_suffix(".prj").unlink()
    code, err = _run_cli(monkeypatch, capsys, reversed_db_url, path, "--output", tmp_path / "out.csv")
    assert code == 1
    assert path.name in err and message in err


def test_negative_dwellings_option_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["assess", "nutrient", str(BNW_SMALL["zip"]), "--dwellings", "-1", "--output", "x.csv"])
    assert exit_info.value.code == 2
    assert "--dwellings" in capsys.readouterr().err


CONSOLE_SCRIPT = Path(sys.executable).with_name("nrf-pipeline")
DATABASE_VARIABLES = ("NRF_DATABASE_URL", "DB_HOST")


def _console(tmp_path, env_extra: dict[str, str], *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in DATABASE_VARIABLES} | env_extra
    return subprocess.run(
        [str(CONSOLE_SCRIPT), "assess", "nutrient", *map(str, args)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )


def test_console_script_against_a_database(tmp_path, bnw_runs, reversed_db_url):
    """The real console script on the active release of a configured database: the exact CSV of the
    in-process batch, IAT columns first."""
    out = tmp_path / "bnw.csv"
    done = _console(tmp_path, {"NRF_DATABASE_URL": reversed_db_url}, BNW, "--method", "iat-2025-10", "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8") == csv_text(bnw_runs["iat-2025-10"].kept)
    assert "245 sites assessed (217 in scope" in done.stderr


def test_console_script_without_a_database(tmp_path):
    """No database configured: the command starts PostGIS, loads the shipped reference set, assesses
    and stops what it started."""
    out = tmp_path / "small.csv"
    done = _console(tmp_path, {}, BNW_SMALL["zip"], "--method", "nrf-2026-04", "--output", out)
    assert done.returncode == 0, done.stderr
    assert "no database configured" in done.stderr
    (row,) = rows_by_rlb(out.read_text(encoding="utf-8")).values()
    assert list(row)[:31] == list(csv.DictReader(io.StringIO(
        (EXPECTED_DIR / "nutrients" / "iat-2025-10" / "BnW_small_under_1_hectare.csv").read_text())).fieldnames)
    n_total, p_total = SMALL_EXPECTED["nrf-2026-04"][-2:]
    assert (float(row["N_Total"]), float(row["P_Total"])) == (n_total, p_total)
