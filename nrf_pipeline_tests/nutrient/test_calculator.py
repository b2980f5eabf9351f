"""Nutrient calculator: worked examples, calculator-level baseline checks, synthetic batches.

Expected values come from nutrient-method.md (worked examples, §4 conventions), from the baseline
CSVs' own columns, or from arithmetic written out here; never from a previous run of the code.
"""

from __future__ import annotations

import csv
import io
import math
import random
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from shapely.geometry import box

from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.nutrient.calculator import (
    CatchmentShare,
    Piece,
    RatesLookup,
    SiteSpatial,
    WwtwLookup,
    assess_batch,
    buffered_total,
    dev_area_ha,
    dwelling_density,
    in_scope,
    kept_results,
    piece_uplift,
    post_suds,
    residential_coefficient,
    round2,
    suds_factor,
    wastewater,
)
from nrf_pipeline.nutrient.methods import DEFAULT_METHOD, METHODS, get_method
from nrf_pipeline.nutrient.output import COLUMNS, EXTRA_COLUMNS, IAT_COLUMNS, write_csv
from nrf_pipeline.sites import Site
from nrf_pipeline_tests.paths import EXPECTED_DIR, REFERENCE_DIR

NAN = float("nan")
IAT09, IAT10, NRF = (get_method(n) for n in ("iat-2025-09", "iat-2025-10", "nrf-2026-04"))
ALL_METHODS = (IAT09, IAT10, NRF)
BASELINES = sorted((EXPECTED_DIR / "nutrients").glob("*/*.csv"))
BROADS, WENSUM = "The Broads SAC", "River Wensum SAC"
PTP_NAME = "Package Treatment Plant default"
CONCENTRATIONS = (
    "Nitrogen_2025_2030", "Nitrogen_2030_onwards", "Phosphorus_2025_2030", "Phosphorus_2030_onwards"
)


def _lookup_rows(table: str) -> list[dict]:
    with closing(sqlite3.connect(REFERENCE_DIR / "lookups" / "lookups.sqlite")) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(f'SELECT * FROM "{table}" ORDER BY rowid')]


WWTW = WwtwLookup.from_rows(_lookup_rows("WwTw_lookup"))
RATES = RatesLookup.from_rows(_lookup_rows("rates_lookup"))


def site(rlb_id: int = 1, area_m2: float = 5000.0, dwellings: int = 10, **kwargs) -> Site:
    geometry = box(0, 0, area_m2 / 100, 100)
    return Site(rlb_id=rlb_id, geometry=geometry, dwellings=dwellings, **kwargs)


def piece(area_ha: float, curr_n: float = 20.0, resi_n: float = 13.0, curr_p: float = 0.5,
          resi_p: float = 1.2, name: str = BROADS, oid: int = 29) -> Piece:
    return Piece(name, oid, area_ha, curr_n, curr_p, resi_n, resi_p)


def assess_one(s: Site, sp: SiteSpatial, method, wwtw=WWTW, rates=RATES):
    (result,) = assess_batch([s], [sp], wwtw, rates, method)
    return result


def blank(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def num(cell: str) -> float:
    return NAN if cell.strip() == "" else float(cell)


def same(expected_cell: str, actual: float) -> bool:
    """§6 comparison: both blank, or both present within 1e-6; blank against a number fails."""
    if expected_cell.strip() == "":
        return blank(actual)
    return not blank(actual) and abs(float(expected_cell) - actual) <= 1e-6


# ---------------------------------------------------------------------------------------------
# Method versions


def test_method_rules_follow_the_spec_table():
    assert DEFAULT_METHOD == "nrf-2026-04"
    assert set(METHODS) == {"iat-2025-09", "iat-2025-10", "nrf-2026-04"}
    assert [m.wwtw_factor_k for m in ALL_METHODS] == [1.0, 0.9, 0.9]
    assert [m.suds_min_dwellings for m in ALL_METHODS] == [None, None, 50]
    assert [m.greenspace for m in ALL_METHODS] == [False, False, True]
    assert [m.drop_ptp_outside_nn for m in ALL_METHODS] == [False, True, True]
    assert [m.single_site_rates_fallback for m in ALL_METHODS] == [False, False, True]
    assert [m.nn_overlap_counted_once for m in ALL_METHODS] == [False, False, True]
    assert [m.missing_values for m in ALL_METHODS] == ["legacy", "legacy", "assessor"]
    assert [m.uses_people_count for m in ALL_METHODS] == [False, False, True]
    for m in ALL_METHODS:
        assert (m.days_per_year, m.buffer_fraction, m.suds_removal) == (365.25, 0.2, 0.25)
        assert (m.ptp_wwtw_code, m.ptp_wwtw_name, m.default_lpa) == (141, PTP_NAME, "UNKNOWN")
        assert (m.national_occupancy, m.national_water_l) == (2.4, 120.0)
        assert (m.gs_min_area_ha, m.gs_fraction, m.gs_n_coeff, m.gs_p_coeff) == (1.0, 0.2, 3.0, 0.2)


def test_unknown_method_is_a_configuration_error():
    with pytest.raises(AssessmentError) as info:
        get_method("iat-2024-01")
    assert info.value.code == "config_invalid"


# ---------------------------------------------------------------------------------------------
# §5.4 formula checks and §5.1–§5.3 worked examples


@pytest.mark.parametrize(
    "x, expected", [(2.675, 2.68), (11.925, 11.92), (0.015, 0.02), (-0.015, -0.02)]
)
def test_round2_is_numpy_rounding(x, expected):
    assert round2(x) == expected
    assert math.isnan(round2(NAN))


def test_round2_differs_from_python_round():
    assert round(2.675, 2) == 2.67 and round2(2.675) == 2.68


def test_greenspace_formula_example():
    r_n = residential_coefficient(25.0, NRF.gs_n_coeff, True, NRF)
    r_p = residential_coefficient(5.0, NRF.gs_p_coeff, True, NRF)
    assert r_n == pytest.approx(20.6, abs=1e-12) and r_p == pytest.approx(4.04, abs=1e-12)
    assert piece_uplift(r_n, 10.0, 1.5) == 15.9
    assert piece_uplift(r_p, 2.0, 1.5) == 3.06
    assert residential_coefficient(25.0, NRF.gs_n_coeff, False, NRF) == 25.0


def test_suds_and_buffer_examples():
    assert post_suds(-4.16, 0.25) == -5.2
    assert post_suds(2.4699999999999998, 0.0) == 2.47
    assert math.isnan(post_suds(NAN, 0.25))
    assert buffered_total(-26.07, 0.0, NRF) == -20.86
    assert buffered_total(NAN, NAN, IAT10) == 0.0


def test_suds_factor_per_version():
    assert [suds_factor(10, m) for m in ALL_METHODS] == [0.25, 0.25, 0.0]
    assert suds_factor(49, NRF) == 0.0 and suds_factor(50, NRF) == 0.25


def test_wastewater_examples():
    ww = wastewater(100, None, 2.4, 110.0, {"Nitrogen_2030_onwards": 10.0}, NRF)
    assert ww.n_perm == pytest.approx(86.7834, abs=1e-9)
    one = {"Nitrogen_2030_onwards": 27.0}
    assert wastewater(1, None, 2.4, 120.0, one, NRF).n_perm == pytest.approx(2.5561656, abs=1e-12)
    assert wastewater(1, None, 2.4, 120.0, one, IAT09).n_perm == pytest.approx(2.840184, abs=1e-12)


def test_wastewater_evaluation_order_is_the_spec_s():
    """§2.6.4 fixes the float evaluation order; other orders differ in the last bits."""
    rng = random.Random(11)
    differs = 0
    for _ in range(200):
        d, occ = rng.randint(1, 500), rng.uniform(1, 3)
        water, conc = rng.uniform(80, 150), rng.uniform(0.1, 30)
        ww = wastewater(d, None, occ, water, {"Nitrogen_2030_onwards": conc}, IAT10)
        assert ww.n_perm == d * occ * water * 365.25 * (conc / 1_000_000) * 0.9
        assert ww.litres_used == d * (occ * water)
        differs += ww.n_perm != d * (occ * water * 365.25) * conc / 1_000_000 * 0.9
    assert differs > 0


def test_worked_example_5_2_rlb_1():
    # Whitlingham 938: N 27/10, P 1/0.25 mg/L; 19 dwellings at 2.4 × 120.
    concentrations = WWTW.get(938).concentrations
    for method, (n_up, p_up), (n_post, p_post), (n_tot, p_tot) in (
        (IAT10, (19.79, 3.16), (14.84, 2.37), (39.39, 3.38)),
        (NRF, (14.12, 2.47), (14.12, 2.47), (38.53, 3.5)),
    ):
        ww = wastewater(19, None, 2.4, 120.0, concentrations, method)
        assert ww.litres_used == 5472.0
        assert dict(ww.loads) == {
            "N_WwTW_Temp": 48.57, "N_WwTW_Perm": 17.99, "P_WwTW_Temp": 1.8, "P_WwTW_Perm": 0.45
        }
        # 5,472 × 365.25 × 10 / 10⁶ × 0.9 = 17.987832 (the spec's table prints "17.98782").
        assert ww.n_perm == pytest.approx(17.987832, abs=1e-9)
        factor = suds_factor(19, method)
        assert (post_suds(n_up, factor), post_suds(p_up, factor)) == (n_post, p_post)
        assert buffered_total(n_post, ww.n_perm, method) == n_tot
        assert buffered_total(p_post, ww.p_perm, method) == p_tot
    # The totals use the unrounded permanent load: with 17.99 the iat-2025-10 N total would move.
    assert buffered_total(14.84, 17.99, IAT10) == 39.40


@pytest.mark.parametrize("method", [IAT10, NRF], ids=lambda m: m.name)
def test_worked_example_5_1_bnw_small(method):
    # On residential land (R = C): no uplift; in River Wensum SAC; works 1065 Sculthorpe.
    s = site(area_m2=259.3920144687098, dwellings=1, id="24/00119/F")
    sp = SiteSpatial(1065, "King's Lynn and West Norfolk District (B)", "Wensum",
                     [piece(0.025939201446870983, 12.75, 12.75, 1.16, 1.16, name=WENSUM, oid=33)])
    r = assess_one(s, sp, method)
    assert (r.dev_area_ha, r.area_in_nn_catchment, r.nn_catchment) == (0.03, 0.03, WENSUM)
    assert (r.wwtw_name, r.wwtw_subcatchment) == ("Sculthorpe ", "Wensum")
    assert (r.occ_rate, r.water_usage_l_day, r.litres_used) == (2.4, 120.0, 288.0)
    assert r.rates_source == "catchment"
    assert (r.n_wwtw_perm, r.p_wwtw_perm, r.n_total, r.p_total) == (2.56, 0.09, 3.07, 0.11)
    assert r.dwelling_density == pytest.approx(100 / 3)
    assert r.kept


@pytest.mark.parametrize(
    "method, post, perm, totals",
    [
        (IAT09, (-0.30, 0.02), (2.84, 0.11), (3.05, 0.15)),
        (IAT10, (-0.30, 0.02), (2.56, 0.09), (2.71, 0.14)),
        (NRF, (-0.24, 0.02), (2.56, 0.09), (2.78, 0.14)),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_worked_example_5_5_synthetic_parcel(method, post, perm, totals):
    s = site(area_m2=259.3920144687098, dwellings=1)
    arable = piece(0.025939201446870983, 22.17, 12.75, 0.54, 1.16, name=WENSUM)
    sp = SiteSpatial(1065, "LPA", "Wensum", [arable])
    r = assess_one(s, sp, method)
    assert (r.area_in_nn_catchment, r.n_lu_uplift, r.p_lu_uplift) == (0.03, -0.24, 0.02)
    assert (r.n_lu_post_suds, r.p_lu_post_suds) == post
    assert (r.n_wwtw_perm, r.p_wwtw_perm) == perm
    assert (r.n_total, r.p_total) == totals


def test_greenspace_uses_rounded_site_area_5_3():
    # RLB 187: 9,956.16 m² rounds to 1.00 ha, residential land (R = C = 13.30), 45 dwellings.
    on_residential = SiteSpatial(938, "LPA", "Yare", [piece(0.995616, 13.30, 13.30, 1.3, 1.3)])
    rlb187 = site(187, 9956.16, 45)
    legacy, current = (assess_one(rlb187, on_residential, m) for m in (IAT10, NRF))
    assert (legacy.dev_area_ha, legacy.n_lu_uplift, legacy.n_lu_post_suds) == (1.0, 0.0, 0.0)
    expected = round2((13.30 * 0.8 + 0.2 * 3.0 - 13.30) * 0.995616)  # (0.6 − 0.2 R) × a
    assert expected < 0
    assert current.n_lu_uplift == expected
    assert current.n_lu_post_suds == expected  # 45 < 50 dwellings: no SuDS
    assert "GREENSPACE_APPLIED" in current.flags and "GREENSPACE_APPLIED" not in legacy.flags
    # RLB 139: 9,885.58 m² rounds to 0.99 ha: no greenspace; 15 dwellings.
    rlb139 = site(139, 9885.58, 15)
    uplift = SiteSpatial(938, "LPA", "Yare", [piece(0.988558, 18.09, 12.75)])
    legacy, current = (assess_one(rlb139, uplift, m) for m in (IAT10, NRF))
    assert legacy.dev_area_ha == current.dev_area_ha == 0.99
    assert legacy.n_lu_uplift == current.n_lu_uplift == -5.28
    assert (legacy.n_lu_post_suds, current.n_lu_post_suds) == (-6.6, -5.28)
    assert "GREENSPACE_APPLIED" not in current.flags


# ---------------------------------------------------------------------------------------------
# Calculator level: every baseline row recomputed from its own input columns


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _bnw_by_rlb(version: str) -> dict[str, dict[str, str]]:
    path = EXPECTED_DIR / "nutrients" / version / "BroadsWensum_IAT_odd_rlb_ids.csv"
    return {row["RLB_ID"]: row for row in _read(path)}


@pytest.mark.parametrize("path", BASELINES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_baseline_rows_recompute(path):
    method = get_method(path.parent.name)
    rows = _read(path)
    assert rows
    failures = []
    for row in rows:
        dwellings = int(row["Dwellings"])
        concentrations = {c: num(row[c]) for c in CONCENTRATIONS}
        occupancy, water_l = num(row["Occ_Rate"]), num(row["Water_Usage_L_Day"])
        ww = wastewater(dwellings, None, occupancy, water_l, concentrations, method)
        factor = suds_factor(dwellings, method)
        n_post = post_suds(num(row["N_LU_Uplift"]), factor)
        p_post = post_suds(num(row["P_LU_Uplift"]), factor)
        computed = {
            "Litres_used": ww.litres_used,
            **ww.loads,
            "N_LU_postSuDS": n_post,
            "P_LU_postSuDS": p_post,
            "N_Total": buffered_total(n_post, ww.n_perm, method),
            "P_Total": buffered_total(p_post, ww.p_perm, method),
        }
        if "shape_area" in row:
            area_ha = dev_area_ha(float(row["shape_area"]), method)
            computed["Dev_Area_Ha"] = area_ha
            computed["dwelling_density"] = dwelling_density(dwellings, area_ha)
        for column, value in computed.items():
            if not same(row[column], value):
                failures.append((row["RLB_ID"], column, row[column], value))
        # Every baseline row passed the version's out-of-scope filter.
        wwtw_name = row["WwTW_name"] if row["WwTW_name"].strip() else None
        if not in_scope(num(row["AreaInNNCatchment"]), wwtw_name, method):
            failures.append((row["RLB_ID"], "filter", "kept", "dropped"))
    assert failures == []


def test_baselines_cover_the_version_conventions():
    assert len(BASELINES) == 7
    # RLB 207 (rates missing): blank loads under iat-2025-10, 0.0 under nrf-2026-04 (§6 note).
    legacy, current = _bnw_by_rlb("iat-2025-10"), _bnw_by_rlb("nrf-2026-04")
    assert legacy["207"]["Occ_Rate"] == current["207"]["Occ_Rate"] == ""
    assert legacy["207"]["N_WwTW_Perm"] == "" and current["207"]["N_WwTW_Perm"] == "0.0"
    # iat-2025-09 keeps PTP sites outside NN (filter rule 2 off); later versions would drop them.
    for name in ("Eden_IAT_260925.csv", "Tees_IAT_260925.csv"):
        ptp_outside = [r for r in _read(EXPECTED_DIR / "nutrients/iat-2025-09" / name)
                       if r["AreaInNNCatchment"] == "" and r["WwTW_name"] == PTP_NAME]
        assert ptp_outside
        assert all(not in_scope(NAN, PTP_NAME, m) for m in (IAT10, NRF))


def test_bnw_greenspace_free_parts_agree_between_versions():
    """Sites under 1.00 ha have no greenspace, so the real-layer uplifts of iat-2025-10 and
    nrf-2026-04 agree there; the wastewater columns agree everywhere except RLB 207's convention."""
    legacy, current = _bnw_by_rlb("iat-2025-10"), _bnw_by_rlb("nrf-2026-04")
    assert legacy.keys() == current.keys()
    small = [k for k in legacy if float(legacy[k]["Dev_Area_Ha"]) < 1.0]
    assert len(small) > 10
    for k in small:
        for column in ("AreaInNNCatchment", "N_LU_Uplift", "P_LU_Uplift"):
            assert (legacy[k][column] == "") == (current[k][column] == "")
            if legacy[k][column]:
                assert same(legacy[k][column], float(current[k][column])), (k, column)
    for k in legacy:
        columns = ["Majority_WwTw_ID", "Occ_Rate", "Water_Usage_L_Day", "Litres_used"]
        columns += CONCENTRATIONS
        if k != "207":
            columns += ["N_WwTW_Temp", "P_WwTW_Temp", "N_WwTW_Perm", "P_WwTW_Perm"]
        for column in columns:
            assert same(legacy[k][column], num(current[k][column])), (k, column)


# ---------------------------------------------------------------------------------------------
# Lookups (D3, §2.6.3)


def test_wwtw_lookup_keys_and_first_row_wins():
    assert len(WWTW) == 506
    assert WWTW.get(10012) is not None  # code stored as "\t10012"
    assert WWTW.get(10261).name == "Bruton Wastewater Treatment Works"
    assert WWTW.get(10416).name == "Ashill "
    ptp = WWTW.get(141)
    assert (ptp.name, ptp.subcatchment) == (PTP_NAME, None)
    assert dict(ptp.concentrations) == {"Nitrogen_2025_2030": 25.0, "Nitrogen_2030_onwards": 25.0,
                                        "Phosphorus_2025_2030": 4.5, "Phosphorus_2030_onwards": 4.5}


def test_bad_lookup_values_are_missing_and_flagged_not_fatal():
    donyatt = WWTW.get(10281)
    assert donyatt.invalid_columns == ("Nitrogen_2025_2030",)
    assert math.isnan(donyatt.concentrations["Nitrogen_2025_2030"])
    # Kendal ('?' concentrations) has no code, so it can never be joined; '?' is invalid anyway.
    (kendal_row,) = [r for r in _lookup_rows("WwTw_lookup") if r["WwTW_name"].startswith("Kendal")]
    assert len(WwtwLookup.from_rows([kendal_row])) == 0
    rows = [{"WwTW_code": "5", "Phosphorus_2025_2030": "?", "Phosphorus_2030_onwards": "?"}]
    kendal = WwtwLookup.from_rows(rows).get(5)
    assert kendal.invalid_columns == ("Phosphorus_2025_2030", "Phosphorus_2030_onwards")

    sp = SiteSpatial(10281, "Somerset", "Parrett", [piece(0.4, name=BROADS)])
    for method, shown in ((IAT10, NAN), (NRF, 0.0)):
        r = assess_one(site(dwellings=10), sp, method)
        assert "LOOKUP_VALUE_INVALID:Nitrogen_2025_2030" in r.flags
        assert "CONCENTRATION_MISSING:Nitrogen_2030_onwards" in r.flags
        assert "CONCENTRATION_MISSING:Nitrogen_2025_2030" not in r.flags
        assert blank(r.nitrogen_2025_2030)
        assert (blank(r.n_wwtw_temp), r.n_wwtw_temp == 0.0) == (blank(shown), shown == 0.0)
        # P at 8 mg/L still computes: 10 × 2.4 × 120 × 365.25 × 8e-6 × 0.9.
        assert r.p_wwtw_perm == round2(10 * 2.4 * 120 * 365.25 * (8 / 1e6) * 0.9)


def test_rates_lookup_first_row_and_invalid_values():
    rates = RatesLookup.from_rows([
        {"NN_Catchment": "A", "Occ_Rate": 2.0, "Water_Usage_L_Day": 100},
        {"NN_Catchment": "A", "Occ_Rate": 9.0, "Water_Usage_L_Day": 900},
        {"NN_Catchment": "B", "Occ_Rate": "x", "Water_Usage_L_Day": "110"},
    ])
    assert (rates.get("A").occupancy, rates.get("A").water_l) == (2.0, 100.0)
    assert rates.get("B").invalid_columns == ("Occ_Rate",) and not rates.get("B").complete
    assert RATES.get("Hotel").occupancy == 1.0 and RATES.get(None) is None


# ---------------------------------------------------------------------------------------------
# Batch behaviour through assess_batch


def test_group_mean_reproduces_baseline_float_noise():
    # 125 sites served by Whitlingham (938); one of them spans two catchments, so its joined name
    # matches no rates row. Sites of another works are interleaved: they are not in the group.
    sites, spatial = [], []
    for i in range(130):
        sites.append(site(i + 1, dwellings=19))
        if i % 26 == 25:
            spatial.append(SiteSpatial(1065, "LPA", "Wensum", [piece(0.3, name=WENSUM)]))
        elif i == 60:
            spatial.append(_two_catchment_site(()))
        else:
            spatial.append(SiteSpatial(938, "LPA", "Bure", [piece(0.3)]))
    assert sum(s.majority_wwtw_id == 938 for s in spatial) == 125
    for method in (IAT10, NRF):
        results = assess_batch(sites, spatial, WWTW, RATES, method)
        r = results[60]
        assert r.nn_catchment == f"{WENSUM}; {BROADS}" and "MULTI_CATCHMENT" in r.flags
        assert r.occ_rate == 2.399999999999998  # the BnW baseline value, bit for bit
        assert r.occ_rate != sum([2.4] * 124) / 124  # a plain mean gives another float
        assert r.water_usage_l_day == 120.0
        assert r.rates_source == "batch_group_mean" and "RATES_MISSING" not in r.flags
        assert r.litres_used == 19 * (2.399999999999998 * 120.0)
        assert all(x.rates_source == "catchment" for j, x in enumerate(results) if j != 60)


def _two_catchment_site(shares):
    pieces = [piece(0.2, name=BROADS), piece(0.1, name=WENSUM, oid=33)]
    return SiteSpatial(938, "LPA", "Bure", pieces, (), shares)


DISTINCT_RATES = RatesLookup.from_rows([
    {"NN_Catchment": BROADS, "Occ_Rate": 2.0, "Water_Usage_L_Day": 100},
    {"NN_Catchment": WENSUM, "Occ_Rate": 3.0, "Water_Usage_L_Day": 150},
])


def test_single_site_rates_fallback_largest_overlap():
    shares = [CatchmentShare(WENSUM, 33, 1000.0), CatchmentShare(BROADS, 27, 2000.0),
              CatchmentShare("No Rates SAC", 40, 3000.0)]
    r = assess_one(site(dwellings=10), _two_catchment_site(shares), NRF, rates=DISTINCT_RATES)
    assert (r.occ_rate, r.water_usage_l_day) == (2.0, 100.0)
    assert r.rates_source == "largest_overlap_catchment"
    assert "RATES_FALLBACK" in r.flags and "RATES_MISSING" not in r.flags
    assert r.litres_used == 10 * 2.0 * 100.0
    assert r.n_wwtw_perm == round2(10 * 2.0 * 100.0 * 365.25 * (10 / 1e6) * 0.9)
    # Equal areas: the name that sorts first wins.
    tie = [CatchmentShare(BROADS, 27, 1000.0), CatchmentShare(WENSUM, 33, 1000.0)]
    r = assess_one(site(dwellings=10), _two_catchment_site(tie), NRF, rates=DISTINCT_RATES)
    assert (r.occ_rate, r.water_usage_l_day) == (3.0, 150.0)


def test_single_site_rates_fallback_national_default():
    outside_nn = SiteSpatial(1065, "LPA", "Wensum")
    r = assess_one(site(dwellings=10), outside_nn, NRF, rates=DISTINCT_RATES)
    assert (r.occ_rate, r.water_usage_l_day, r.rates_source) == (2.4, 120.0, "national_default")
    assert "RATES_FALLBACK" in r.flags and r.kept  # outside NN, real works: wastewater only
    assert r.n_total == round2(r.n_total) and r.n_total > 0


def test_rates_stay_missing_without_fallback():
    shares = [CatchmentShare(BROADS, 27, 2000.0)]
    # Legacy versions: no fallback, loads blank.
    r = assess_one(site(dwellings=10), _two_catchment_site(shares), IAT10, rates=DISTINCT_RATES)
    assert r.rates_source == "missing" and "RATES_MISSING" in r.flags
    assert all(blank(x) for x in (r.occ_rate, r.water_usage_l_day, r.litres_used, r.n_wwtw_temp,
                                  r.p_wwtw_temp, r.n_wwtw_perm, r.p_wwtw_perm))
    assert r.n_total == round2(r.n_lu_post_suds + abs(r.n_lu_post_suds) * 0.2)
    # nrf-2026-04 in a batch of two: no fallback either, but loads are 0.0 (§4).
    peer = SiteSpatial(1065, "LPA", "Wensum", [piece(0.3, name=WENSUM)])
    spatial = [_two_catchment_site(shares), peer]
    r, _ = assess_batch([site(1), site(2)], spatial, WWTW, DISTINCT_RATES, NRF)
    assert r.rates_source == "missing" and "RATES_MISSING" in r.flags
    assert blank(r.occ_rate) and blank(r.litres_used)
    assert (r.n_wwtw_temp, r.p_wwtw_temp, r.n_wwtw_perm, r.p_wwtw_perm) == (0.0, 0.0, 0.0, 0.0)


def test_overlap_pieces_counted_once_or_twice():
    # OIDs 29 and 33 of The Broads SAC overlap; the overlap lies in one coefficient parcel.
    pieces = [piece(0.5, 20.0, 30.0, 1.0, 1.5, oid=29), piece(0.3, 20.0, 30.0, 1.0, 1.5, oid=33)]
    overlap = [piece(0.1, 20.0, 30.0, 1.0, 1.5, oid=29)]
    sp = SiteSpatial(938, "LPA", "Bure", pieces, overlap)
    s = site(area_m2=9000.0, dwellings=60)
    legacy, current = (assess_one(s, sp, m) for m in (IAT10, NRF))
    assert (legacy.area_in_nn_catchment, legacy.n_lu_uplift, legacy.p_lu_uplift) == (0.8, 8.0, 0.4)
    assert (current.area_in_nn_catchment, current.n_lu_uplift) == (0.7, 7.0)
    assert current.p_lu_uplift == 0.35
    assert "NN_OVERLAP_COUNTED_ONCE" in current.flags
    assert "NN_OVERLAP_COUNTED_ONCE" not in legacy.flags
    assert current.nn_catchment == BROADS and "MULTI_CATCHMENT" not in current.flags


def test_defaults_when_nothing_overlaps():
    sp = SiteSpatial(None, None, None)
    for method in ALL_METHODS:
        r = assess_one(site(), sp, method)
        assert (r.majority_wwtw_id, r.majority_lpa, r.wwtw_name) == (141, "UNKNOWN", PTP_NAME)
        assert r.dev_subcatchment is None and r.wwtw_subcatchment is None
        assert "PTP_DEFAULT" in r.flags
        assert blank(r.area_in_nn_catchment) and r.nn_catchment is None and blank(r.n_lu_uplift)
    # The 141 row has no sub-catchment: the site's own one is used.
    r = assess_one(site(), SiteSpatial(None, "Broadland", "Bure", [piece(0.3)]), NRF)
    assert (r.majority_wwtw_id, r.wwtw_subcatchment, r.majority_lpa) == (141, "Bure", "Broadland")
    assert (r.nitrogen_2030_onwards, r.phosphorus_2030_onwards) == (25.0, 4.5)


def test_site_without_pieces_has_nan_post_suds_whatever_the_batch():
    # D6: a batch where no site has a piece gives NaN post-SuDS, not 0.0; with no catchment name in
    # the group, rates stay missing and the totals are 0.0, never blank.
    for method in ALL_METHODS:
        spatial = [SiteSpatial(938), SiteSpatial(1065)]
        for r in assess_batch([site(1), site(2)], spatial, WWTW, RATES, method):
            assert blank(r.n_lu_post_suds) and blank(r.p_lu_post_suds)
            assert "SUDS_APPLIED" not in r.flags
            assert r.rates_source == "missing" and (r.n_total, r.p_total) == (0.0, 0.0)
    # Beside a site with pieces: still NaN, and it takes its works group's rates.
    spatial = [SiteSpatial(938), SiteSpatial(938, pieces=[piece(0.3)])]
    for method in ALL_METHODS:
        r, peer = assess_batch([site(1), site(2)], spatial, WWTW, RATES, method)
        assert blank(r.n_lu_post_suds) and not blank(peer.n_lu_post_suds)
        assert (r.occ_rate, r.water_usage_l_day, r.rates_source) == (2.4, 120.0, "batch_group_mean")
        base = 10 * 2.4 * 120 * 365.25 * (10 / 1e6) * method.wwtw_factor_k  # Whitlingham N 10 mg/L
        assert r.n_total == round2(base + abs(base) * 0.2)


def test_dwelling_density_is_nan_when_area_rounds_to_zero():
    r = assess_one(site(area_m2=40.0, dwellings=2), SiteSpatial(938, pieces=[piece(0.004)]), NRF)
    assert r.dev_area_ha == 0.0 and blank(r.dwelling_density)
    r = assess_one(site(area_m2=25000.0, dwellings=5), SiteSpatial(938, pieces=[piece(2.5)]), NRF)
    assert r.dwelling_density == 2.0


def test_people_count_for_other_residential():
    s = site(dwellings=0, people=10)
    sp = SiteSpatial(938, "LPA", "Yare", [piece(0.3)])
    r = assess_one(s, sp, NRF)
    assert r.litres_used == 10 * 120.0 and "PEOPLE_COUNT_USED" in r.flags
    assert r.n_wwtw_temp == round2(10 * 120.0 * 365.25 * (27 / 1e6) * 0.9)
    assert r.people == 10
    legacy = assess_one(s, sp, IAT10)
    assert legacy.litres_used == 0.0 and legacy.n_wwtw_temp == 0.0
    assert "PEOPLE_COUNT_IGNORED" in legacy.flags


def test_zero_dwellings():
    sp = SiteSpatial(938, "LPA", "Yare", [piece(0.5, 20.0, 13.0)])  # (13 − 20) × 0.5 = −3.5
    # iat: −3.5 − 0.875 = −4.375 → −4.38 (ties to even); nrf: 0 < 50 dwellings, no SuDS.
    for method, post in ((IAT10, -4.38), (NRF, -3.5)):
        r = assess_one(site(dwellings=0), sp, method)
        assert (r.litres_used, r.n_wwtw_perm, r.p_wwtw_temp) == (0.0, 0.0, 0.0)
        assert r.n_lu_post_suds == post and r.dwelling_density == 0.0
        assert r.n_total == round2(post + abs(post) * 0.2)  # the buffer on a negative base


def test_negative_uplift_with_suds():
    # BnW RLB 7: N uplift −4.16, 11 dwellings (−5.2 in iat-2025-10, −4.16 in nrf-2026-04).
    sp = SiteSpatial(141, "LPA", "Yare", [piece(0.52, 20.0, 12.0)])  # (12 − 20) × 0.52 = −4.16
    assert assess_one(site(area_m2=7821.45, dwellings=11), sp, IAT10).n_lu_post_suds == -5.2
    r = assess_one(site(area_m2=7821.45, dwellings=11), sp, NRF)
    assert r.n_lu_post_suds == -4.16 and "SUDS_APPLIED" not in r.flags
    r = assess_one(site(area_m2=7821.45, dwellings=60), sp, NRF)
    assert r.n_lu_post_suds == -5.2 and "SUDS_APPLIED" in r.flags


def test_missing_coefficients():
    pieces = [piece(0.3, NAN, 13.0, 0.5, 1.5), piece(0.2, 20.0, NAN, 0.5, 1.5)]
    sp = SiteSpatial(938, "LPA", "Yare", pieces)
    r = assess_one(site(), sp, IAT10)
    assert "COEFFICIENT_MISSING" in r.flags
    assert r.n_lu_uplift == 0.0  # every piece lacks an N coefficient: 0.0, not NaN
    assert r.p_lu_uplift == 0.5  # (1.5 − 0.5) × 0.3 + (1.5 − 0.5) × 0.2: P unaffected
    assert (r.area_in_nn_catchment, r.nn_catchment) == (0.5, BROADS)


def test_fsum_is_independent_of_piece_order():
    rng = random.Random(7)
    pieces = [
        piece(rng.uniform(0.001, 0.5), rng.uniform(3, 30), rng.uniform(12, 15),
              rng.uniform(0.2, 0.7), rng.uniform(1.1, 1.4), oid=i)
        for i in range(300)
    ]
    s = site(area_m2=90000.0, dwellings=100)
    outputs = set()
    for _ in range(5):
        rng.shuffle(pieces)
        r = assess_one(s, SiteSpatial(938, "LPA", "Yare", list(pieces)), NRF)
        outputs.add((r.n_lu_uplift, r.p_lu_uplift, r.area_in_nn_catchment, r.n_total, r.p_total))
    assert len(outputs) == 1
    (n_uplift, *_), = outputs
    resi = [p.n_resi * 0.8 + 0.6000000000000001 for p in pieces]  # greenspace: site is 9 ha
    terms = [round2((rn - p.lu_curr_n) * p.area_ha) for rn, p in zip(resi, pieces)]
    assert n_uplift == math.fsum(terms)


@pytest.mark.parametrize(
    "spatial, kept",
    [
        (SiteSpatial(9999), (False, False, False)),  # rule 1: no piece, works not in lookup
        (SiteSpatial(None), (True, False, False)),  # rule 2: no piece, PTP default
        (SiteSpatial(141), (True, False, False)),  # rule 2 is on the works name
        (SiteSpatial(9999, pieces=[piece(0.2)]), (True, True, True)),  # a piece keeps the site
        (SiteSpatial(938), (True, True, True)),  # outside NN, real works
    ],
)
def test_out_of_scope_filter(spatial, kept):
    assert tuple(assess_one(site(), spatial, m).kept for m in ALL_METHODS) == kept


def test_kept_results_sorted_and_filtered():
    sites = [site(3), site(1), site(2)]
    spatial = [SiteSpatial(938, pieces=[piece(0.2)]), SiteSpatial(9999), SiteSpatial(1065)]
    results = assess_batch(sites, spatial, WWTW, RATES, NRF)
    assert [r.rlb_id for r in results] == [3, 1, 2]
    assert [r.rlb_id for r in kept_results(results)] == [2, 3]


def _loads(r) -> tuple[float, ...]:
    return (r.n_wwtw_temp, r.p_wwtw_temp, r.n_wwtw_perm, r.p_wwtw_perm)


def test_missing_value_conventions():
    # Works not in the lookup, rates present.
    sp = SiteSpatial(9999, "LPA", "Yare", [piece(0.3)])
    legacy, current = (assess_one(site(), sp, m) for m in (IAT10, NRF))
    for r in (legacy, current):
        assert "WWTW_NOT_IN_LOOKUP" in r.flags
        assert r.wwtw_name is None and r.wwtw_subcatchment is None and blank(r.nitrogen_2025_2030)
        assert (r.occ_rate, r.water_usage_l_day, r.litres_used) == (2.4, 120.0, 10 * (2.4 * 120.0))
    assert all(blank(x) for x in _loads(legacy))
    assert _loads(current) == (0.0, 0.0, 0.0, 0.0)
    assert legacy.n_total == round2(legacy.n_lu_post_suds + abs(legacy.n_lu_post_suds) * 0.2)
    # One concentration missing (Staveley 10012: no N permit): only that load differs.
    sp = SiteSpatial(10012, "LPA", "Kent", [piece(0.3)])
    legacy, current = (assess_one(site(), sp, m) for m in (IAT09, NRF))
    assert blank(legacy.n_wwtw_perm) and current.n_wwtw_perm == 0.0
    assert "CONCENTRATION_MISSING:Nitrogen_2030_onwards" in current.flags
    assert legacy.p_wwtw_perm == round2(10 * 2.4 * 120 * 365.25 * (8 / 1e6) * 1.0)
    assert current.p_wwtw_perm == round2(10 * 2.4 * 120 * 365.25 * (8 / 1e6) * 0.9)


def test_catchment_shares_pass_through():
    shares = [
        CatchmentShare(WENSUM, 33, 1000.0),
        CatchmentShare(BROADS, 27, 4000.0),
        CatchmentShare("Touching SAC", 1, 0.0),
    ]
    r = assess_one(site(area_m2=5000.0), SiteSpatial(938, catchment_shares=shares), NRF)
    assert [(c.name, c.catchment_id) for c in r.catchment_shares] == [(WENSUM, 33), (BROADS, 27)]
    assert [round2(c.percent(r.shape_area)) for c in r.catchment_shares] == [20.0, 80.0]


def test_site_flags_are_kept():
    r = assess_one(site(flags=("GEOMETRY_FROM_GEOJSON",)), SiteSpatial(938), NRF)
    assert r.flags == tuple(sorted(r.flags)) and "GEOMETRY_FROM_GEOJSON" in r.flags


# ---------------------------------------------------------------------------------------------
# CSV output (§3)


def test_csv_format():
    name = 'Land at\r\nGreen, "L" '
    s = site(5, 30491.625, 19, id="2019", name=name, dwelling_category="allocation")
    pieces = [piece(0.01, 12.0, 13.0, name=WENSUM), piece(2.46, 12.0, 13.0, name=WENSUM)]
    sp = SiteSpatial(1065, "LPA", "Wensum", pieces)
    results = [assess_one(s, sp, IAT10), assess_one(site(6), SiteSpatial(1065), IAT10)]
    assert list(results[0].to_row()) == list(COLUMNS) == list(IAT_COLUMNS + EXTRA_COLUMNS)
    assert len(IAT_COLUMNS) == 31
    out = io.StringIO()
    write_csv(results, out)
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\r\n") == 1  # only inside the quoted name
    first, second = csv.DictReader(io.StringIO(text, newline=""))
    assert list(first) == list(COLUMNS)
    assert first["Name"] == name
    assert (first["RLB_ID"], first["Dwellings"], first["Majority_WwTw_ID"]) == ("5", "19", "1065")
    assert first["N_LU_Uplift"] == repr(math.fsum([0.01, 2.46])) == "2.4699999999999998"
    assert first["shape_area"] == repr(30491.625)
    assert first["WwTW_name"] == "Sculthorpe "
    assert (first["flags"], first["people"]) == ("SUDS_APPLIED", "")
    assert first["method_version"] == "iat-2025-10"
    assert second["AreaInNNCatchment"] == second["NN_Catchment"] == second["N_LU_postSuDS"] == ""


def test_csv_to_path(tmp_path):
    path = tmp_path / "out.csv"
    write_csv([assess_one(site(), SiteSpatial(938, pieces=[piece(0.2)]), NRF)], path)
    rows = _read(path)
    assert rows[0]["flags"] == ""  # 0.5 ha, 10 dwellings: neither greenspace nor SuDS
    assert rows[0]["Dev_Area_Ha"] == "0.5" and rows[0]["method_version"] == "nrf-2026-04"
    assert path.read_bytes().count(b"\r") == 0
