"""GCN domain core (gcn-method.md): baselines, acceptance totals, EDP split, hand-built cases."""

from __future__ import annotations

import csv
import random
from functools import cache
from pathlib import Path

import pytest
import shapely
from shapely.geometry import MultiPolygon, box

from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.gcn.assessment import assess_gcn, extent, is_applicable
from nrf_pipeline.gcn.methods import get_method
from nrf_pipeline.gcn.model import EdpEdgeFeature, GcnReference, GcnResult, PondFeature, RiskZoneFeature, SurveyPond
from nrf_pipeline.gcn.output import write_psv_tables
from nrf_pipeline_tests.gcn.data import (
    SITE_FILE,
    SITE_FILE_2,
    SYNTHETIC_PONDS_FILE,
    real_reference,
    real_sites,
    real_survey_ponds,
)
from nrf_pipeline_tests.paths import EXPECTED_DIR

ROUTES = ("survey", "no_survey")


@cache
def real_result(route: str, method: str = "gcn-2025-11") -> GcnResult:
    survey = real_survey_ponds() if route == "survey" else None
    return assess_gcn(real_sites(), "20260101", real_reference(), survey, method)


def read_psv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="|"))


def habitat_by_key(rows: list[dict[str, str]]) -> dict[tuple[str, str, str], float]:
    """§6 row key: (Area, suffix of UniqueSite, RZ) → Shape_Area."""
    return {(r["Area"], r["UniqueSite"].rsplit("_", 1)[1], r["RZ"]): float(r["Shape_Area"]) for r in rows}


def frequencies(rows: list[dict[str, str]]) -> list[tuple]:
    return [(r["PANS"], r["Area"], r["MaxZone"], r["TmpImp"], int(r["FREQUENCY"])) for r in rows]


def close(a: float, b: float) -> bool:
    """§6 tolerance: relative 1e-6 or absolute 0.01 m², whichever is larger."""
    return abs(a - b) <= max(1e-6 * abs(b), 0.01)


# --- baselines (§6) --------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_reproduces_upstream_baseline_through_psv(route, tmp_path):
    write_psv_tables(real_result(route), tmp_path)
    expected_dir = EXPECTED_DIR / "gcn" / route

    got = habitat_by_key(read_psv(tmp_path / "Habitat_Impact.psv"))
    expected = habitat_by_key(read_psv(expected_dir / "Habitat_Impact.psv"))
    assert set(got) == set(expected)
    bad = {k: (got[k], expected[k]) for k in expected if not close(got[k], expected[k])}
    assert not bad

    got_freq = frequencies(read_psv(tmp_path / "Ponds_Impact_Frequency.psv"))
    assert got_freq == frequencies(read_psv(expected_dir / "Ponds_Impact_Frequency.psv"))


def test_psv_headers_are_the_spec_columns(tmp_path):
    write_psv_tables(real_result("no_survey"), tmp_path)
    headers = {p.name: p.read_text().splitlines()[0].split("|") for p in tmp_path.iterdir()}
    assert headers == {
        "Habitat_Impact.psv": "FID_RLB_Merge_with_Buffer Id UniqueRef UniqueSite ORIG_FID Area UniqueBufferSite "
        "FID_RZs_Clipped_PairwiseClip Shape_Leng MHW RZ Shape_Length Shape_Area".split(),
        "Ponds_Impact_Frequency.psv": ["PANS", "Area", "MaxZone", "TmpImp", "FREQUENCY"],
        "Habitat_Impact_EDPSplit.psv": "FID_RLB_Merge_with_Buffer Id UniqueRef UniqueSite ORIG_FID Area "
        "UniqueBufferSite FID_RZs_Clipped_PairwiseClip Shape_Leng MHW RZ Shape_Length_1 Shape_Area_1 EDPName "
        "Shape_Length_2 Shape_Area_2 Shape_Area".split(),
        "Ponds_Impact_Frequency_EDPSplit.psv": ["PANS", "Area", "MaxZone", "TmpImp", "EDPName", "FREQUENCY"],
    }


ACCEPTANCE = {  # §6 quick acceptance totals, m²
    "no_survey": {
        ("RLB", "Green"): 147_682.51,
        ("RLB", "Amber"): 419_156.91,
        ("RLB", "Red"): 681_776.55,
        ("Buffer", "Green"): 559_312.60,
        ("Buffer", "Amber"): 1_841_734.06,
        ("Buffer", "Red"): 1_665_206.76,
    },
    "survey": {
        ("RLB", "Green"): 133_818.96,
        ("RLB", "Amber"): 368_851.87,
        ("RLB", "Red"): 673_824.40,
        ("Buffer", "Green"): 533_019.40,
        ("Buffer", "Amber"): 1_575_818.59,
        ("Buffer", "Red"): 1_651_538.54,
    },
}


@pytest.mark.parametrize("route,ponds_counted", [("no_survey", 169), ("survey", 132)])
def test_quick_acceptance_totals(route, ponds_counted):
    result = real_result(route)
    totals: dict[tuple[str, str], float] = {}
    for row in result.habitat_impact:
        totals[(row.area, row.rz)] = totals.get((row.area, row.rz), 0.0) + row.shape_area
    assert totals.keys() == ACCEPTANCE[route].keys()
    assert all(close(totals[k], v) for k, v in ACCEPTANCE[route].items()), totals
    assert sum(r.frequency for r in result.pond_frequency) == ponds_counted
    # The third site has no habitat within reach of a pond.
    assert {r.unique_site.rsplit("_", 1)[1] for r in result.habitat_impact} == {
        "Site00001",
        "Site00002",
        "Site00004",
        "Buffer00001",
    }
    assert result.route == ("SURVEY" if route == "survey" else "NO_SURVEY")
    assert result.flags == ()


def test_national_ponds_as_described_in_the_data_readme():
    details = real_result("no_survey").pond_detail
    assert len(details) == 169
    assert sum(d.area == "RLB" for d in details) == 59
    assert sum(":" in (d.concatenate_rz or "") for d in details) == 1  # one pond touches two classes


@pytest.mark.parametrize("route", ROUTES)
def test_split_tables_sum_to_the_unsplit_tables(route):
    result = real_result(route)
    by_piece: dict[int, list] = {}
    for split in result.habitat_split:
        assert split.habitat.shape_area == split.record()["Shape_Area_1"]
        by_piece.setdefault(id(split.habitat), []).append(split)
    assert len(by_piece) == len(result.habitat_impact)
    for row in result.habitat_impact:
        parts = by_piece[id(row)]
        assert abs(sum(p.shape_area for p in parts) - row.shape_area) <= 1e-6 * row.shape_area
    # The test extent is inside the two edges up to slivers: no remainder rows, and some pieces cross.
    assert {s.edp_name for s in result.habitat_split} == {"AreaA", "AreaB"}
    assert any(len(parts) == 2 for parts in by_piece.values())

    regrouped: dict[tuple, int] = {}
    for r in result.pond_frequency_split:
        key = (r.pans, r.area, r.max_zone, r.tmp_imp)
        regrouped[key] = regrouped.get(key, 0) + r.frequency
    assert regrouped == {(r.pans, r.area, r.max_zone, r.tmp_imp): r.frequency for r in result.pond_frequency}


@pytest.mark.parametrize("route,straddling", [("no_survey", 7), ("survey", 6)])
def test_ponds_straddling_two_edges_go_to_the_larger_overlap(route, straddling):
    edges = {e.edp_name: e.geometry for e in real_reference().edp_edges}
    details = [d for d in real_result(route).pond_detail if d.max_zone is not None]
    overlaps = [(d, {n: shapely.intersection(d.geometry, g).area for n, g in edges.items()}) for d in details]
    crossing = [(d, o) for d, o in overlaps if all(a > 0 for a in o.values())]
    assert len(crossing) == straddling  # §3.8
    for d, o in overlaps:
        assert d.edp_name == max(sorted(o), key=lambda n: o[n])


def test_determinism_reference_order_does_not_matter():
    reference = real_reference()
    shuffled = []
    for seed in (1, 2):
        rng = random.Random(seed)
        parts = [list(reference.risk_zones), list(reference.ponds), list(reference.edp_edges)]
        for p in parts:
            rng.shuffle(p)
        shuffled.append(assess_gcn(real_sites(), "20260101", GcnReference(*parts)))
    baseline = real_result("no_survey")
    for result in shuffled:
        assert result == baseline  # every table, the summaries and the flags
        assert [r.geometry.wkb for r in result.habitat_impact] == [r.geometry.wkb for r in baseline.habitat_impact]
        assert result.to_edp_entries() == baseline.to_edp_entries()


ARCGIS_RING_BUFFER = {  # §6 informational ArcGIS ring-variant Buffer areas, m²
    "no_survey": {"Green": 411_914.46, "Amber": 1_423_150.97, "Red": 983_642.95},
    "survey": {"Green": 399_495.93, "Amber": 1_207_374.14, "Red": 977_899.22},
}


@pytest.mark.parametrize("route", ROUTES)
def test_ring_variant_against_arcgis_buffer_areas(route):
    ring = real_result(route, "gcn-2025-09-ring")
    buffer_totals: dict[str, float] = {}
    for row in ring.habitat_impact:
        if row.area == "Buffer":
            buffer_totals[row.rz] = buffer_totals.get(row.rz, 0.0) + row.shape_area
    expected = ARCGIS_RING_BUFFER[route]
    assert buffer_totals.keys() == expected.keys()
    assert all(abs(buffer_totals[k] - v) <= 1e-3 * v for k, v in expected.items()), buffer_totals
    assert ring.pond_frequency == real_result(route).pond_frequency
    assert ring.buffer_includes_site is False
    assert ring.to_edp_entries()[0]["impact"]["bufferIncludesSite"] is False


def test_extent_and_applicability():
    e = extent(real_sites())
    # bbox of SiteBoundary_00001 (E 592413.6–596050.7, N 294076.8–296052.9) widened by 250 m; the
    # arc vertices (16 per quarter circle) may fall 250 (1 − cos(π/64)) ≈ 0.3 m short of it.
    assert e.bounds == pytest.approx((592163.6, 293826.8, 596300.7, 296302.9), abs=0.35)
    edges = real_reference().edp_edges
    assert is_applicable(e, edges)
    assert not is_applicable(e, [])
    far_away = extent(box(100_000, 100_000, 100_100, 100_100))
    assert not is_applicable(far_away, edges)


def test_unknown_method_version_is_a_configuration_error():
    with pytest.raises(AssessmentError) as error:
        get_method("gcn-1999-01")
    assert error.value.code == "config_invalid"
    with pytest.raises(AssessmentError):
        assess_gcn(box(0, 0, 1, 1), "R", GcnReference([], [], []), None, "nope")


# --- hand-built world with closed-form answers ---------------------------------------------------
#
# Site 0..100 × 0..100. Risk zones Red x < 50, Amber x > 50, both within y -50..150 and x -50..150:
# a zone region that lies inside the 250 m site buffer and, with a pond near the site centre, inside
# the pond buffers, so every habitat area is a rectangle. EDP edges split at x = 60.

SITE = box(0, 0, 100, 100)
RED = box(-50, -50, 50, 150)
AMBER = box(50, -50, 150, 150)
AREA_A = box(-1000, -1000, 60, 1000)
AREA_B = box(60, -1000, 1000, 1000)
ZONES = [RiskZoneFeature("Red", None, RED), RiskZoneFeature("Amber", None, AMBER)]
EDGES = [EdpEdgeFeature("AreaB", 10.0, 20.0, AREA_B), EdpEdgeFeature("AreaA", 30.0, 40.0, AREA_A)]


def world(ponds, zones=ZONES, edges=EDGES) -> GcnReference:
    return GcnReference(zones, [PondFeature(None, p) for p in ponds], edges)


def habitat(result: GcnResult) -> dict[tuple[str, str], float]:
    return {(r.unique_site.rsplit("_", 1)[1], r.rz): r.shape_area for r in result.habitat_impact}


def test_pond_touching_two_zones_takes_the_max_zone():
    pond = box(45, 45, 55, 55)  # straddles x = 50
    result = assess_gcn(SITE, "R", world([pond]))
    [detail] = result.pond_detail
    assert (detail.area, detail.concatenate_rz, detail.max_zone) == ("RLB", "Amber:Red", "Red")
    assert [r.record() for r in result.pond_frequency] == [
        {"PANS": "NS", "Area": "RLB", "MaxZone": "Red", "TmpImp": "F", "FREQUENCY": 1}
    ]
    areas = habitat(result)
    assert areas == pytest.approx(
        {
            ("Site00001", "Amber"): 50 * 100,
            ("Site00001", "Red"): 50 * 100,
            ("Buffer00001", "Amber"): 100 * 200,  # the buffer includes the site
            ("Buffer00001", "Red"): 100 * 200,
        },
        rel=1e-12,
    )
    assert [(r.fid, r.rz_index) for r in result.habitat_impact] == [(0, 1), (0, 2), (1, 1), (1, 2)]


def test_habitat_piece_crossing_an_edp_edge_is_split():
    result = assess_gcn(SITE, "R", world([box(45, 45, 55, 55)]))
    split = {(r.habitat.unique_site.rsplit("_", 1)[1], r.habitat.rz, r.edp_name): r for r in result.habitat_split}
    assert {k: r.shape_area for k, r in split.items()} == pytest.approx(
        {
            ("Site00001", "Red", "AreaA"): 5000,
            ("Site00001", "Amber", "AreaA"): 10 * 100,
            ("Site00001", "Amber", "AreaB"): 40 * 100,
            ("Buffer00001", "Red", "AreaA"): 20000,
            ("Buffer00001", "Amber", "AreaA"): 10 * 200,
            ("Buffer00001", "Amber", "AreaB"): 90 * 200,
        },
        rel=1e-12,
    )
    row = split[("Site00001", "Amber", "AreaB")].record()
    assert (row["Shape_Area_1"], row["Shape_Length_2"], row["Shape_Area_2"]) == (pytest.approx(5000), 10.0, 20.0)
    # Rows follow the habitat table, then EDPName.
    assert [(r.habitat.fid, r.habitat.rz_index, r.edp_name) for r in result.habitat_split] == [
        (0, 1, "AreaA"),
        (0, 1, "AreaB"),
        (0, 2, "AreaA"),
        (1, 1, "AreaA"),
        (1, 1, "AreaB"),
        (1, 2, "AreaA"),
    ]


def test_pond_straddling_an_edp_edge_goes_to_the_larger_overlap_ties_alphabetical():
    ponds = [
        box(45, 45, 55, 55),  # inside AreaA only
        box(51, 20, 81, 30),  # 9 m in AreaA, 21 m in AreaB → AreaB (x > 50: Amber only)
        box(55, 60, 65, 70),  # 5 m on each side → tie → AreaA
    ]
    result = assess_gcn(SITE, "R", world(ponds))
    assert sorted((d.geometry.bounds, d.edp_name) for d in result.pond_detail) == sorted(
        [((45, 45, 55, 55), "AreaA"), ((51, 20, 81, 30), "AreaB"), ((55, 60, 65, 70), "AreaA")]
    )
    assert [r.record() for r in result.pond_frequency_split] == [
        {"PANS": "NS", "Area": "RLB", "MaxZone": "Amber", "TmpImp": "F", "EDPName": "AreaA", "FREQUENCY": 1},
        {"PANS": "NS", "Area": "RLB", "MaxZone": "Amber", "TmpImp": "F", "EDPName": "AreaB", "FREQUENCY": 1},
        {"PANS": "NS", "Area": "RLB", "MaxZone": "Red", "TmpImp": "F", "EDPName": "AreaA", "FREQUENCY": 1},
    ]


def test_pond_straddling_the_site_edge_counts_once_as_rlb_with_its_inside_part():
    pond = box(90, 20, 110, 30)  # half inside the site
    result = assess_gcn(SITE, "R", world([pond]))
    [detail] = result.pond_detail
    assert detail.area == "RLB"
    assert detail.geometry.area == pytest.approx(100.0)  # only the 10 × 10 m inside the site
    assert [(r.area, r.frequency) for r in result.pond_frequency] == [("RLB", 1)]
    # The clipped pond (90..100) reaches the whole zone region: x ≥ -50 is within 140 m of it.
    assert habitat(result)[("Buffer00001", "Red")] == pytest.approx(20000, rel=1e-12)


def test_buffer_pond_and_pond_outside_the_extent():
    ponds = [box(200, 45, 210, 55), box(2000, 2000, 2010, 2010)]  # in the buffer; far outside E
    result = assess_gcn(SITE, "R", world(ponds))
    assert [(d.area, d.max_zone, d.pond_id) for d in result.pond_detail] == [("Buffer", None, "1")]
    assert result.pond_frequency == ()  # it touches no risk zone: not counted (§3.7)
    # ...but it still generates habitat: the site's Amber half is within 157 m of it.
    assert habitat(result)[("Site00001", "Amber")] == pytest.approx(5000, rel=1e-12)


def test_site_touching_no_risk_zone_gives_empty_tables():
    far_zones = [RiskZoneFeature("Red", None, box(5000, 5000, 6000, 6000))]
    result = assess_gcn(SITE, "R", world([box(45, 45, 55, 55)], zones=far_zones))
    assert result.habitat_impact == result.pond_frequency == result.habitat_split == ()
    assert result.pond_frequency_split == ()
    # GCN applies (E meets both edges), so each edge still gets an (empty) entry.
    assert [(e["edpName"], e["impact"]["ponds"], e["impact"]["habitat"]) for e in result.to_edp_entries()] == [
        ("AreaA", {"total": 0, "groups": []}, []),
        ("AreaB", {"total": 0, "groups": []}, []),
    ]


def test_multipolygon_site_is_split_into_site_rows():
    sites = MultiPolygon([SITE, box(1000, 0, 1100, 100)])  # 900 m apart: buffers stay separate
    zones = ZONES + [RiskZoneFeature("Green", "Above MHW", box(950, -50, 1150, 150))]
    ponds = [box(45, 45, 55, 55), box(1045, 45, 1055, 55)]
    result = assess_gcn(sites, "R", world(ponds, zones=zones))
    assert habitat(result) == pytest.approx(
        {
            ("Site00001", "Amber"): 5000,
            ("Site00001", "Red"): 5000,
            ("Site00002", "Green"): 10000,
            ("Buffer00001", "Green"): 200 * 200,
            ("Buffer00001", "Amber"): 20000,
            ("Buffer00001", "Red"): 20000,
        },
        rel=1e-12,
    )
    rows = {(r.unique_site, r.rz): r for r in result.habitat_impact}
    site2, buffer_green = rows[("R_Site00002", "Green")], rows[("R_Buffer00001", "Green")]
    assert (site2.fid, site2.orig_fid, site2.unique_buffer_site) == (1, 1, None)
    assert (buffer_green.fid, buffer_green.orig_fid, buffer_green.unique_buffer_site) == (2, 0, "R_Buffer00001")
    assert buffer_green.mhw == "Above MHW" and rows[("R_Buffer00001", "Red")].mhw is None
    # The ring variant has one buffer row per separate part.
    ring = assess_gcn(sites, "R", world(ponds, zones=zones), method="gcn-2025-09-ring")
    assert {(r.unique_site, r.rz): r.shape_area for r in ring.habitat_impact if r.area == "Buffer"} == pytest.approx(
        {
            ("R_Buffer00001", "Amber"): 20000 - 5000,
            ("R_Buffer00001", "Red"): 20000 - 5000,
            ("R_Buffer00002", "Green"): 40000 - 10000,
        },
        rel=1e-9,
    )


def test_two_sites_whose_buffers_merge_have_one_buffer_row():
    sites = [(SITE, 7), (box(300, 0, 400, 100), 8)]  # 200 m apart: the 250 m buffers merge
    zones = [RiskZoneFeature("Red", None, box(-50, -50, 450, 150))]
    ponds = [box(45, 45, 55, 55), box(345, 45, 355, 55)]
    result = assess_gcn(sites, "R", world(ponds, zones=zones))
    assert [(r.unique_site, r.id, r.shape_area) for r in result.habitat_impact] == [
        ("R_Site00001", 7, pytest.approx(10000, rel=1e-12)),
        ("R_Site00002", 8, pytest.approx(10000, rel=1e-12)),
        ("R_Buffer00001", None, pytest.approx(500 * 200, rel=1e-12)),
    ]
    ring = assess_gcn(sites, "R", world(ponds, zones=zones), method="gcn-2025-09-ring")
    [ring_row] = [r for r in ring.habitat_impact if r.area == "Buffer"]
    assert ring_row.shape_area == pytest.approx(100000 - 20000, rel=1e-9)


def test_remainder_outside_every_edge_is_reported_only_from_1_m2():
    pond = [box(45, 45, 55, 55)]
    only_a = [EdpEdgeFeature("AreaA", None, None, AREA_A)]
    result = assess_gcn(SITE, "R", world(pond, edges=only_a))
    site_amber = [r for r in result.habitat_split if r.habitat.unique_site == "R_Site00001" and r.habitat.rz == "Amber"]
    assert {r.edp_name: r.shape_area for r in site_amber} == pytest.approx({None: 4000, "AreaA": 1000})
    # Missing attributes: perimeter and area of the dissolved geometry.
    row = next(r for r in result.habitat_split if r.edp_name == "AreaA")
    assert (row.edp_shape_length, row.edp_shape_area) == (AREA_A.length, AREA_A.area)
    # The empty name sorts first within a piece (code-point order of the table).
    assert [r.edp_name for r in result.habitat_split][:2] == [None, "AreaA"]
    entries = result.to_edp_entries()
    assert [e["edpName"] for e in entries] == ["AreaA", None]  # null last
    assert entries[1]["edpId"] is None

    # A 0.005 m strip outside the edge: 0.5 m² per 100 m piece side, a sliver, not reported.
    nearly_all = [EdpEdgeFeature("AreaA", None, None, box(-1000, -1000, 99.995, 1000))]
    result = assess_gcn(SITE, "R", world(pond, edges=nearly_all))
    site_amber = [r for r in result.habitat_split if r.habitat.unique_site == "R_Site00001" and r.habitat.rz == "Amber"]
    assert [(r.edp_name, r.shape_area) for r in site_amber] == [("AreaA", pytest.approx(4999.5))]


def test_edp_name_with_several_rows_is_dissolved():
    halves = [
        EdpEdgeFeature("AreaA", 1.0, 2.0, box(-1000, -1000, 60, 0)),
        EdpEdgeFeature("AreaA", 3.0, 4.0, box(-1000, 0, 60, 1000)),
    ]
    result = assess_gcn(SITE, "R", world([box(45, 45, 55, 55)], edges=halves))
    row = next(r for r in result.habitat_split if r.edp_name == "AreaA" and r.habitat.unique_site == "R_Site00001")
    assert (row.edp_shape_length, row.edp_shape_area) == (pytest.approx(AREA_A.length), pytest.approx(AREA_A.area))
    # One row per name, not per source polygon.
    assert sorted(r.edp_name or "" for r in result.habitat_split if r.habitat.rz == "Red") == ["AreaA", "AreaA"]


def test_edp_entries():
    ponds = [box(45, 45, 55, 55), box(51, 20, 81, 30), box(200, 60, 210, 70)]
    result = assess_gcn(SITE, "R", world(ponds))
    assert result.to_edp_entries() == [
        {
            "edpId": "AreaA",
            "edpName": "AreaA",
            "edpType": "GCN",
            "methodVersion": "gcn-2025-11",
            "impact": {
                "route": "NO_SURVEY",
                "bufferIncludesSite": True,
                "ponds": {
                    "total": 1,
                    "groups": [{"pans": "NS", "area": "RLB", "maxZone": "Red", "tmpImp": "F", "count": 1}],
                },
                "habitat": [
                    {"area": "RLB", "riskZone": "Red", "areaM2": 5000.0, "areaHa": 0.5},
                    {"area": "RLB", "riskZone": "Amber", "areaM2": 1000.0, "areaHa": 0.1},
                    {"area": "Buffer", "riskZone": "Red", "areaM2": 20000.0, "areaHa": 2.0},
                    {"area": "Buffer", "riskZone": "Amber", "areaM2": 2000.0, "areaHa": 0.2},
                ],
            },
        },
        {
            "edpId": "AreaB",
            "edpName": "AreaB",
            "edpType": "GCN",
            "methodVersion": "gcn-2025-11",
            "impact": {
                "route": "NO_SURVEY",
                "bufferIncludesSite": True,
                "ponds": {
                    "total": 1,
                    "groups": [{"pans": "NS", "area": "RLB", "maxZone": "Amber", "tmpImp": "F", "count": 1}],
                },
                "habitat": [
                    {"area": "RLB", "riskZone": "Amber", "areaM2": 4000.0, "areaHa": 0.4},
                    {"area": "Buffer", "riskZone": "Amber", "areaM2": 18000.0, "areaHa": 1.8},
                ],
            },
        },
    ]


# --- survey ponds (G8) -----------------------------------------------------------------------


def test_survey_ponds_without_tmpimp_default_to_f_with_a_flag_and_absent_ponds_count():
    ponds = [
        SurveyPond(box(45, 45, 55, 55), "A", None, "S-1"),  # absent, no TmpImp
        SurveyPond(box(60, 60, 70, 70), "P", "T", "S-2"),
        SurveyPond(box(200, 60, 210, 70), "NS"),
    ]
    national = [box(10, 10, 20, 20)]  # must be ignored on the survey route
    result = assess_gcn(SITE, "R", world(national), ponds)
    assert result.route == "SURVEY"
    assert result.flags == ("TMPIMP_DEFAULTED",)
    assert [(d.pond_id, d.pans, d.tmp_imp, d.area) for d in result.pond_detail] == [
        ("S-1", "A", "F", "RLB"),
        ("S-2", "P", "T", "RLB"),
        ("3", "NS", "F", "Buffer"),
    ]
    assert [(r.pans, r.area, r.max_zone, r.tmp_imp) for r in result.pond_frequency] == [
        ("A", "RLB", "Red", "F"),
        ("P", "RLB", "Amber", "T"),
    ]
    # The absent pond alone generates the whole habitat.
    only_absent = assess_gcn(SITE, "R", world([]), ponds[:1])
    assert habitat(only_absent)[("Site00001", "Red")] == pytest.approx(5000, rel=1e-12)
    # An empty survey is the survey route with no ponds, not the national ponds.
    empty = assess_gcn(SITE, "R", world(national), [])
    assert (empty.route, empty.habitat_impact, empty.pond_detail) == ("SURVEY", (), ())


@pytest.mark.parametrize(
    "pond",
    [
        SurveyPond(box(45, 45, 55, 55), None, "F"),
        SurveyPond(box(45, 45, 55, 55), "X", "F"),
        SurveyPond(box(45, 45, 55, 55), "P", "Y"),
        SurveyPond(shapely.Polygon(), "P", "F"),
        SurveyPond(None, "P", "F"),
    ],
)
def test_invalid_survey_pond_is_a_clear_error(pond):
    with pytest.raises(AssessmentError) as error:
        assess_gcn(SITE, "R", world([]), [pond])
    assert error.value.code == "invalid_survey_ponds"


def test_invalid_survey_pond_geometry_is_repaired_and_flagged():
    bowtie = shapely.Polygon([(40, 40), (60, 60), (60, 40), (40, 60), (40, 40)])
    result = assess_gcn(SITE, "R", world([]), [SurveyPond(bowtie, "P", "F")])
    assert result.flags == ("SURVEY_POND_REPAIRED",)
    [detail] = result.pond_detail
    assert detail.geometry.area == pytest.approx(200.0)  # two 10 × 20 / 2 triangles
    assert detail.max_zone == "Red"


# --- precision grid (§2, §3.6) --------------------------------------------------------------


def test_habitat_pieces_are_snapped_to_the_grid():
    for row in real_result("survey").habitat_impact:
        scaled = shapely.get_coordinates(row.geometry) / 0.0001
        assert abs(scaled - scaled.round()).max() < 1e-3


def test_overlap_below_the_grid_is_a_sliver_that_disappears():
    # Red reaches 0.04 mm into the site: 0.004 m² unsnapped, nothing once snapped to 0.1 mm.
    zones = [RiskZoneFeature("Red", None, box(-50, -50, 0.00004, 150))]
    result = assess_gcn(SITE, "R", world([box(45, 45, 55, 55)], zones=zones))
    assert habitat(result) == {("Buffer00001", "Red"): pytest.approx(50 * 200, rel=1e-12)}


def test_habitat_piece_keeps_only_its_polygons():
    # The Red zone touches the site along x = 100 and overlaps it in a 10 m square: the shared edge
    # is no habitat and adds nothing to the perimeter.
    red = shapely.union_all([box(100, -50, 150, 150), box(80, 40, 90, 50)])
    zones = [RiskZoneFeature("Red", None, red)]
    result = assess_gcn(SITE, "R", world([box(45, 45, 55, 55)], zones=zones))
    [site_red] = [r for r in result.habitat_impact if r.area == "RLB"]
    assert (site_red.shape_area, site_red.shape_length) == (pytest.approx(100.0), pytest.approx(40.0))


# --- smoke: the second site and the synthetic national ponds (§6 "other test data") -------------


@pytest.mark.parametrize("site_file", [SITE_FILE, SITE_FILE_2])
def test_synthetic_ponds_smoke(site_file):
    reference = real_reference(SYNTHETIC_PONDS_FILE)
    result = assess_gcn(real_sites(site_file), "R", reference)
    counted = [d for d in result.pond_detail if d.max_zone is not None]
    assert sum(r.frequency for r in result.pond_frequency) == len(counted) > 0
    assert sum(r.frequency for r in result.pond_frequency_split) == len(counted)
    for row in result.habitat_impact:
        parts = [s.shape_area for s in result.habitat_split if s.habitat is row]
        assert abs(sum(parts) - row.shape_area) <= 1e-6 * row.shape_area
    if site_file == SITE_FILE:
        # 48 synthetic ponds meet SiteBoundary_00001 + 250 m, 16 of them the site polygons.
        assert len(result.pond_detail) == 48
        assert sum(d.area == "RLB" for d in result.pond_detail) == 16
        assert sum(":" in d.concatenate_rz for d in counted) == 1  # one pond touches two classes
