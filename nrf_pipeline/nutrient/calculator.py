"""The nutrient calculation after the spatial step (nutrient-method.md §2.3–§2.11).

The spatial query fills one `SiteSpatial` per site (majority features, land-use pieces, catchment
shares); `assess_batch` turns them into one `NutrientResult` per site under a `NutrientMethod`.
Missing numbers are NaN, missing strings are None. Geometry is read only for the site area.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nrf_pipeline.nutrient.methods import NutrientMethod
from nrf_pipeline.sites import Site

NAN = float("nan")

CONCENTRATION_COLUMNS = (
    "Nitrogen_2025_2030",
    "Nitrogen_2030_onwards",
    "Phosphorus_2025_2030",
    "Phosphorus_2030_onwards",
)
# Wastewater load column -> the permit concentration it uses (§2.6.4).
LOAD_CONCENTRATIONS = {
    "N_WwTW_Temp": "Nitrogen_2025_2030",
    "P_WwTW_Temp": "Phosphorus_2025_2030",
    "N_WwTW_Perm": "Nitrogen_2030_onwards",
    "P_WwTW_Perm": "Phosphorus_2030_onwards",
}


# ---------------------------------------------------------------------------------------------
# Numbers and strings


def round2(x: float) -> float:
    """numpy's rounding to 2 dp: x × 100, round half to even, ÷ 100 (§2.9). NaN stays NaN."""
    return float(np.round(np.float64(x), 2))


def fill0(x: float) -> float:
    return 0.0 if math.isnan(x) else x


def to_number(raw: object) -> tuple[float, bool]:
    """A raw lookup or coefficient value as (float, invalid).

    NULL or blank gives (NaN, False): simply missing. Text that is not a finite number (`'f'`,
    `'?'`) gives (NaN, True): treated as missing and flagged (D3).
    """
    if raw is None:
        return NAN, False
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return NAN, False
        try:
            value = float(text)
        except ValueError:
            return NAN, True
        return (value, False) if math.isfinite(value) else (NAN, True)
    value = float(raw)
    return value, False


def _text(raw: object) -> str | None:
    """A lookup string, unchanged (D10); None when NULL, NaN or blank."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    text = str(raw)
    return text if text.strip() else None


def _wwtw_code(raw: object) -> int | None:
    """The integer key of a lookup code; surrounding whitespace (`"\\t10012"`) is stripped and
    free text (`"9602 or 10197"`) gives no key (§2.6.3)."""
    if isinstance(raw, numbers.Integral):
        return int(raw)
    if not isinstance(raw, str):
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Lookups


@dataclass(frozen=True)
class Works:
    """One row of the WwTW lookup."""

    code: int
    name: str | None
    subcatchment: str | None
    concentrations: Mapping[str, float]  # column -> mg/L; NaN when NULL or non-numeric
    invalid_columns: tuple[str, ...]  # concentration columns whose raw value was non-numeric


class WwtwLookup:
    """The WwTW lookup by integer code; the first row of a duplicated code wins (§2.6.3)."""

    def __init__(self, works: Iterable[Works]):
        self._by_code: dict[int, Works] = {}
        for row in works:
            self._by_code.setdefault(row.code, row)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, object]]) -> WwtwLookup:
        """Build from raw rows in source order (`WwTW_code`, `WwTW_name`, `Subcatchment_name` and
        the four concentration columns), as read from the database or the SQLite file."""
        works = []
        for row in rows:
            code = _wwtw_code(row.get("WwTW_code"))
            if code is None:
                continue
            parsed = {column: to_number(row.get(column)) for column in CONCENTRATION_COLUMNS}
            works.append(
                Works(
                    code=code,
                    name=_text(row.get("WwTW_name")),
                    subcatchment=_text(row.get("Subcatchment_name")),
                    concentrations={column: value for column, (value, _) in parsed.items()},
                    invalid_columns=tuple(c for c, (_, invalid) in parsed.items() if invalid),
                )
            )
        return cls(works)

    def get(self, code: int) -> Works | None:
        return self._by_code.get(code)

    def __len__(self) -> int:
        return len(self._by_code)


@dataclass(frozen=True)
class Rates:
    """One row of the rates lookup."""

    catchment: str
    occupancy: float  # persons per dwelling; NaN when missing or non-numeric
    water_l: float  # L/person/day; NaN when missing or non-numeric
    invalid_columns: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not (math.isnan(self.occupancy) or math.isnan(self.water_l))


class RatesLookup:
    """The rates lookup by exact catchment name; the first row of a name wins (§2.6.1)."""

    def __init__(self, rates: Iterable[Rates]):
        self._by_name: dict[str, Rates] = {}
        for row in rates:
            self._by_name.setdefault(row.catchment, row)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, object]]) -> RatesLookup:
        """Build from raw rows in source order (`NN_Catchment`, `Occ_Rate`, `Water_Usage_L_Day`)."""
        rates = []
        for row in rows:
            name = _text(row.get("NN_Catchment"))
            if name is None:
                continue
            occupancy, occupancy_invalid = to_number(row.get("Occ_Rate"))
            water_l, water_invalid = to_number(row.get("Water_Usage_L_Day"))
            invalid = ("Occ_Rate",) * occupancy_invalid + ("Water_Usage_L_Day",) * water_invalid
            rates.append(Rates(name, occupancy, water_l, invalid))
        return cls(rates)

    def get(self, name: str | None) -> Rates | None:
        return None if name is None else self._by_name.get(name)

    def __len__(self) -> int:
        return len(self._by_name)


# ---------------------------------------------------------------------------------------------
# Spatial measurements: what the spatial query must fill for each site


@dataclass(frozen=True)
class Piece:
    """A land-use piece r ∩ c ∩ n (§2.4.1), or an overlap piece r ∩ c ∩ n_i ∩ n_j (§2.4.4).

    Coefficients (kg/ha/yr) are NaN when missing or non-numeric in the coefficient layer. For an
    overlap piece, `oid` is the smaller of the two OIDs.
    """

    nn_name: str
    oid: int
    area_ha: float  # unrounded
    lu_curr_n: float
    lu_curr_p: float
    n_resi: float
    p_resi: float


@dataclass(frozen=True)
class CatchmentShare:
    """Area of the site inside the union of the polygons of one NN catchment name (§2.10)."""

    name: str
    catchment_id: int  # smallest OID among the polygons of that name
    area_m2: float

    def percent(self, shape_area: float) -> float:
        """Share of the site, in percent, unrounded (round2 it for output)."""
        return 100 * self.area_m2 / shape_area


@dataclass(frozen=True)
class SiteSpatial:
    """The spatial measurements of one site, in the batch order of the sites.

    `majority_*` are the attributes of the largest positive-area overlap (§2.3, D5), None when no
    feature overlaps (the calculator applies the defaults: WwTW 141, LPA "UNKNOWN", no
    sub-catchment). `overlap_pieces` are the same-name NN overlap pieces, used only by methods that
    count an overlap once (D4).
    """

    majority_wwtw_id: int | None = None
    majority_lpa: str | None = None
    dev_subcatchment: str | None = None
    pieces: Sequence[Piece] = ()
    overlap_pieces: Sequence[Piece] = ()
    catchment_shares: Sequence[CatchmentShare] = ()


# ---------------------------------------------------------------------------------------------
# Calculation steps


def dev_area_ha(shape_area: float, method: NutrientMethod) -> float:
    return round2(shape_area / method.m2_per_ha)


def dwelling_density(dwellings: int, area_ha: float) -> float:
    """Dwellings per rounded hectare; NaN, not infinity, when the area rounds to 0.00 (D7)."""
    return NAN if area_ha == 0 else dwellings / area_ha


def greenspace_applies(area_ha: float, method: NutrientMethod) -> bool:
    """The test is on the rounded `Dev_Area_Ha`, not on a piece area (§2.4.2)."""
    return method.greenspace and area_ha >= method.gs_min_area_ha


def residential_coefficient(
    resi: float, gs_coeff: float, greenspace: bool, method: NutrientMethod
) -> float:
    """R' of §2.4.2: 20 % of the site assumed to be greenspace with a fixed low coefficient."""
    if not greenspace:
        return resi
    return resi * (1 - method.gs_fraction) + method.gs_fraction * gs_coeff


def piece_uplift(resi: float, curr: float, area_ha: float) -> float:
    """Rounded uplift of one piece (§2.4.3)."""
    return round2((resi - curr) * area_ha)


@dataclass(frozen=True)
class LandUse:
    area_ha: float  # Σ piece areas, unrounded; NaN without pieces
    nn_catchment: str | None
    n_uplift: float  # Σ rounded piece uplifts, not re-rounded; NaN without pieces
    p_uplift: float
    flags: frozenset[str]


def land_use(
    pieces: Sequence[Piece],
    overlap_pieces: Sequence[Piece],
    area_ha: float,
    method: NutrientMethod,
) -> LandUse:
    """Area, catchment names and uplifts of one site from its pieces (§2.4)."""
    pieces = [p for p in pieces if p.area_ha > 0]
    if not pieces:
        return LandUse(NAN, None, NAN, NAN, frozenset())
    overlaps = []
    if method.nn_overlap_counted_once:
        overlaps = [p for p in overlap_pieces if p.area_ha > 0]
    greenspace = greenspace_applies(area_ha, method)
    # Overlap pieces enter negated, in the same fsum, so the result is independent of piece order.
    signed = [(1.0, p) for p in pieces] + [(-1.0, p) for p in overlaps]
    n_terms, p_terms, missing = [], [], False
    for sign, p in signed:
        n_resi = residential_coefficient(p.n_resi, method.gs_n_coeff, greenspace, method)
        p_resi = residential_coefficient(p.p_resi, method.gs_p_coeff, greenspace, method)
        for resi, curr, terms in ((n_resi, p.lu_curr_n, n_terms), (p_resi, p.lu_curr_p, p_terms)):
            if math.isnan(resi) or math.isnan(curr):
                missing = True
            else:
                terms.append(sign * piece_uplift(resi, curr, p.area_ha))
    names = sorted({p.nn_name for p in pieces})
    flags = {
        "COEFFICIENT_MISSING": missing,
        "MULTI_CATCHMENT": len(names) > 1,
        "NN_OVERLAP_COUNTED_ONCE": bool(overlaps),
        "GREENSPACE_APPLIED": greenspace,
    }
    return LandUse(
        area_ha=math.fsum(sign * p.area_ha for sign, p in signed),
        nn_catchment="; ".join(names),
        n_uplift=math.fsum(n_terms),
        p_uplift=math.fsum(p_terms),
        flags=frozenset(flag for flag, raised in flags.items() if raised),
    )


def suds_factor(dwellings: int, method: NutrientMethod) -> float:
    """Share of |uplift| that SuDS remove (§2.5)."""
    if method.suds_min_dwellings is not None and dwellings < method.suds_min_dwellings:
        return 0.0
    return method.suds_removal


def post_suds(uplift: float, factor: float) -> float:
    """Uplift after SuDS, rounded; the reduction uses |uplift| (§2.5). NaN stays NaN."""
    return round2(uplift - abs(uplift) * factor)


def group_mean_fill(values: Sequence[float], groups: Sequence[int]) -> list[float]:
    """Fill each NaN with the mean of its group, computed exactly as `numpy.nanmean` over the
    group's values in batch order with the missing positions present (§2.6.2): nanmean's pairwise
    sum depends on them, and the baselines' `2.399999999999998` depends on that."""
    column = np.asarray(values, dtype=float)
    keys = np.asarray(groups)
    filled = [float(v) for v in values]
    for key in dict.fromkeys(groups):
        members = np.flatnonzero(keys == key)
        group = column[members]
        if np.isnan(group).all():
            continue
        mean = float(np.nanmean(group))
        for i in members:
            if math.isnan(filled[i]):
                filled[i] = mean
    return filled


def fallback_rates(
    shares: Sequence[CatchmentShare], rates: RatesLookup, method: NutrientMethod
) -> tuple[float, float, str]:
    """D2: rates of the largest-overlap catchment that has a rates row (ties: first name), else
    the national default. Returns (occupancy, water use, rates_source)."""
    candidates = []
    for share in shares:
        row = rates.get(share.name)
        if share.area_m2 > 0 and row is not None and row.complete:
            candidates.append((-share.area_m2, share.name, row))
    if candidates:
        _, _, row = min(candidates, key=lambda c: c[:2])
        return row.occupancy, row.water_l, "largest_overlap_catchment"
    return method.national_occupancy, method.national_water_l, "national_default"


@dataclass(frozen=True)
class Wastewater:
    litres_used: float  # L/day, unrounded; NaN when rates are missing
    loads: Mapping[str, float]  # load column -> 2-dp load as shown, NaN when blank (§4)
    n_perm: float  # unrounded permanent loads, missing inputs as 0: these feed the totals
    p_perm: float


def wastewater(
    dwellings: int,
    people: int | None,
    occupancy: float,
    water_l: float,
    concentrations: Mapping[str, float],
    method: NutrientMethod,
) -> Wastewater:
    """Litres and the four loads (§2.6.4), with the version's blank-or-0.0 convention (§4)."""
    persons = (people or 0) if method.uses_people_count else 0
    # D8: other-residential people count at occupancy 1.0 each.
    litres = dwellings * (occupancy * water_l) + persons * water_l
    occupancy0, water0 = fill0(occupancy), fill0(water_l)
    # Evaluated left to right exactly as the spec writes it: the float result depends on the order.
    annual_litres = dwellings * occupancy0 * water0 * method.days_per_year
    annual_litres = annual_litres + persons * water0 * method.days_per_year
    unrounded, shown = {}, {}
    for column, concentration_column in LOAD_CONCENTRATIONS.items():
        concentration = concentrations.get(concentration_column, NAN)
        load = annual_litres * (fill0(concentration) / method.mg_per_kg) * method.wwtw_factor_k
        unrounded[column] = load
        inputs_missing = math.isnan(occupancy) or math.isnan(water_l) or math.isnan(concentration)
        blank = method.missing_values == "legacy" and inputs_missing
        shown[column] = NAN if blank else round2(load)
    return Wastewater(litres, shown, unrounded["N_WwTW_Perm"], unrounded["P_WwTW_Perm"])


def buffered_total(post_suds_value: float, perm_load: float, method: NutrientMethod) -> float:
    """Total with the precautionary buffer on |base| (§2.7); missing inputs count 0."""
    base = fill0(post_suds_value) + fill0(perm_load)
    return round2(base + abs(base) * method.buffer_fraction)


def in_scope(area_in_nn: float, wwtw_name: str | None, method: NutrientMethod) -> bool:
    """The out-of-scope filter (§2.8): a site with land-use pieces always stays."""
    if not math.isnan(area_in_nn):
        return True
    if wwtw_name is None:  # rule 1
        return False
    return not (method.drop_ptp_outside_nn and wwtw_name == method.ptp_wwtw_name)  # rule 2


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class NutrientResult:
    """One output row (§3) plus what the rest of the pipeline needs about it."""

    rlb_id: int
    id: str | None
    name: str | None
    dwelling_category: str | None
    source: str | None
    dwellings: int
    dev_area_ha: float
    area_in_nn_catchment: float
    nn_catchment: str | None
    dev_subcatchment: str | None
    majority_lpa: str
    majority_wwtw_id: int
    wwtw_name: str | None
    wwtw_subcatchment: str | None
    n_lu_uplift: float
    p_lu_uplift: float
    n_lu_post_suds: float
    p_lu_post_suds: float
    occ_rate: float
    water_usage_l_day: float
    litres_used: float
    nitrogen_2025_2030: float
    nitrogen_2030_onwards: float
    phosphorus_2025_2030: float
    phosphorus_2030_onwards: float
    n_wwtw_temp: float
    p_wwtw_temp: float
    n_wwtw_perm: float
    p_wwtw_perm: float
    n_total: float
    p_total: float
    shape_area: float
    dwelling_density: float
    people: int | None
    method_version: str
    rates_source: str
    flags: tuple[str, ...]
    kept: bool  # passes the out-of-scope filter (§2.8)
    catchment_shares: tuple[CatchmentShare, ...]  # positive-area shares, sorted by name

    def to_row(self) -> dict[str, object]:
        """Output column name -> value: the 31 IAT columns in §3 order, then the extra columns."""
        return {
            "RLB_ID": self.rlb_id,
            "id": self.id,
            "Name": self.name,
            "Dwel_Cat": self.dwelling_category,
            "Source": self.source,
            "Dwellings": self.dwellings,
            "Dev_Area_Ha": self.dev_area_ha,
            "AreaInNNCatchment": self.area_in_nn_catchment,
            "NN_Catchment": self.nn_catchment,
            "Dev_SubCatchment": self.dev_subcatchment,
            "Majority_LPA": self.majority_lpa,
            "Majority_WwTw_ID": self.majority_wwtw_id,
            "WwTW_name": self.wwtw_name,
            "WwTw_SubCatchment": self.wwtw_subcatchment,
            "N_LU_Uplift": self.n_lu_uplift,
            "P_LU_Uplift": self.p_lu_uplift,
            "N_LU_postSuDS": self.n_lu_post_suds,
            "P_LU_postSuDS": self.p_lu_post_suds,
            "Occ_Rate": self.occ_rate,
            "Water_Usage_L_Day": self.water_usage_l_day,
            "Litres_used": self.litres_used,
            "Nitrogen_2025_2030": self.nitrogen_2025_2030,
            "Nitrogen_2030_onwards": self.nitrogen_2030_onwards,
            "Phosphorus_2025_2030": self.phosphorus_2025_2030,
            "Phosphorus_2030_onwards": self.phosphorus_2030_onwards,
            "N_WwTW_Temp": self.n_wwtw_temp,
            "P_WwTW_Temp": self.p_wwtw_temp,
            "N_WwTW_Perm": self.n_wwtw_perm,
            "P_WwTW_Perm": self.p_wwtw_perm,
            "N_Total": self.n_total,
            "P_Total": self.p_total,
            "shape_area": self.shape_area,
            "dwelling_density": self.dwelling_density,
            "people": self.people,
            "method_version": self.method_version,
            "rates_source": self.rates_source,
            "flags": self.flags,
        }


def kept_results(results: Iterable[NutrientResult]) -> list[NutrientResult]:
    """The canonical output: the rows that pass the filter, sorted by RLB_ID (§3)."""
    return sorted((r for r in results if r.kept), key=lambda r: r.rlb_id)


@dataclass
class _Rates:
    """Rates of one site while the batch fallbacks run."""

    occupancy: float
    water_l: float
    source: str
    flags: set[str]


def _join_rates(nn_catchment: str | None, rates: RatesLookup) -> _Rates:
    """Exact-string join on the joined catchment name (§2.6.1): a multi-catchment name never
    matches."""
    row = rates.get(nn_catchment)
    if row is None:
        return _Rates(NAN, NAN, "missing", set())
    flags = {f"LOOKUP_VALUE_INVALID:{column}" for column in row.invalid_columns}
    return _Rates(row.occupancy, row.water_l, "catchment" if row.complete else "missing", flags)


def _batch_rates(
    land_uses: Sequence[LandUse],
    codes: Sequence[int],
    spatial: Sequence[SiteSpatial],
    rates: RatesLookup,
    method: NutrientMethod,
) -> list[_Rates]:
    """Rates of every site: catchment join, batch group mean by works, then the single-site
    fallback when the version has it (§2.6.2). Groups span the whole batch, before the filter."""
    site_rates = [_join_rates(lu.nn_catchment, rates) for lu in land_uses]
    occupancies = group_mean_fill([r.occupancy for r in site_rates], codes)
    waters = group_mean_fill([r.water_l for r in site_rates], codes)
    for r, occupancy, water_l in zip(site_rates, occupancies, waters):
        r.occupancy, r.water_l = occupancy, water_l
        if r.source == "missing" and not (math.isnan(occupancy) or math.isnan(water_l)):
            r.source = "batch_group_mean"
    single = site_rates[0] if len(site_rates) == 1 else None
    if method.single_site_rates_fallback and single is not None and single.source == "missing":
        shares = spatial[0].catchment_shares
        single.occupancy, single.water_l, single.source = fallback_rates(shares, rates, method)
    for r in site_rates:
        if r.source == "missing":
            r.flags.add("RATES_MISSING")
        elif r.source in ("largest_overlap_catchment", "national_default"):
            r.flags.add("RATES_FALLBACK")
    return site_rates


def _works_columns(
    code: int, dev_subcatchment: str | None, wwtw: WwtwLookup, method: NutrientMethod
) -> tuple[str | None, str | None, dict[str, float], set[str]]:
    """Name, sub-catchment, concentrations and flags from the works of the majority code
    (§2.6.3)."""
    works = wwtw.get(code)
    if works is None:
        name, subcatchment, flags = None, None, {"WWTW_NOT_IN_LOOKUP"}
        concentrations = {column: NAN for column in CONCENTRATION_COLUMNS}
    else:
        name, subcatchment = works.name, works.subcatchment
        concentrations = dict(works.concentrations)
        flags = {f"LOOKUP_VALUE_INVALID:{column}" for column in works.invalid_columns}
        flags |= {
            f"CONCENTRATION_MISSING:{column}"
            for column, value in concentrations.items()
            if math.isnan(value) and column not in works.invalid_columns
        }
    if code == method.ptp_wwtw_code and subcatchment is None:
        subcatchment = dev_subcatchment
    return name, subcatchment, concentrations, flags


def _people_flags(people: int | None, method: NutrientMethod) -> set[str]:
    if method.uses_people_count and people:
        return {"PEOPLE_COUNT_USED"}
    if not method.uses_people_count and people is not None:
        return {"PEOPLE_COUNT_IGNORED"}
    return set()


def assess_batch(
    sites: Sequence[Site],
    spatial: Sequence[SiteSpatial],
    wwtw: WwtwLookup,
    rates: RatesLookup,
    method: NutrientMethod,
) -> list[NutrientResult]:
    """Assess a batch (§2.3–§2.11): one result per site, in batch order, filtered rows included
    with `kept=False` (see `kept_results`). `spatial[i]` holds the measurements of `sites[i]`."""
    if len(sites) != len(spatial):
        raise ValueError("one SiteSpatial per site is required")
    shape_areas = [site.geometry.area for site in sites]
    areas_ha = [dev_area_ha(a, method) for a in shape_areas]
    land_uses = [land_use(s.pieces, s.overlap_pieces, a, method) for s, a in zip(spatial, areas_ha)]
    codes = [
        method.ptp_wwtw_code if s.majority_wwtw_id is None else int(s.majority_wwtw_id)
        for s in spatial
    ]
    site_rates = _batch_rates(land_uses, codes, spatial, rates, method)

    results = []
    for i, site in enumerate(sites):
        s, lu, r, code, area_ha = spatial[i], land_uses[i], site_rates[i], codes[i], areas_ha[i]
        wwtw_name, wwtw_subcatchment, concentrations, works_flags = _works_columns(
            code, s.dev_subcatchment, wwtw, method
        )
        factor = suds_factor(site.dwellings, method)
        n_post = post_suds(lu.n_uplift, factor)
        p_post = post_suds(lu.p_uplift, factor)
        ww = wastewater(site.dwellings, site.people, r.occupancy, r.water_l, concentrations, method)
        area_in_nn = round2(lu.area_ha)

        flags = set(site.flags) | lu.flags | r.flags | works_flags
        flags |= _people_flags(site.people, method)
        if s.majority_wwtw_id is None:
            flags.add("PTP_DEFAULT")
        if factor > 0 and not math.isnan(lu.n_uplift):
            flags.add("SUDS_APPLIED")

        results.append(
            NutrientResult(
                rlb_id=site.rlb_id,
                id=site.id,
                name=site.name,
                dwelling_category=site.dwelling_category,
                source=site.source,
                dwellings=site.dwellings,
                dev_area_ha=area_ha,
                area_in_nn_catchment=area_in_nn,
                nn_catchment=lu.nn_catchment,
                dev_subcatchment=s.dev_subcatchment,
                majority_lpa=method.default_lpa if s.majority_lpa is None else s.majority_lpa,
                majority_wwtw_id=code,
                wwtw_name=wwtw_name,
                wwtw_subcatchment=wwtw_subcatchment,
                n_lu_uplift=lu.n_uplift,
                p_lu_uplift=lu.p_uplift,
                n_lu_post_suds=n_post,
                p_lu_post_suds=p_post,
                occ_rate=r.occupancy,
                water_usage_l_day=r.water_l,
                litres_used=ww.litres_used,
                nitrogen_2025_2030=concentrations["Nitrogen_2025_2030"],
                nitrogen_2030_onwards=concentrations["Nitrogen_2030_onwards"],
                phosphorus_2025_2030=concentrations["Phosphorus_2025_2030"],
                phosphorus_2030_onwards=concentrations["Phosphorus_2030_onwards"],
                n_wwtw_temp=ww.loads["N_WwTW_Temp"],
                p_wwtw_temp=ww.loads["P_WwTW_Temp"],
                n_wwtw_perm=ww.loads["N_WwTW_Perm"],
                p_wwtw_perm=ww.loads["P_WwTW_Perm"],
                n_total=buffered_total(n_post, ww.n_perm, method),
                p_total=buffered_total(p_post, ww.p_perm, method),
                shape_area=shape_areas[i],
                dwelling_density=dwelling_density(site.dwellings, area_ha),
                people=site.people,
                method_version=method.name,
                rates_source=r.source,
                flags=tuple(sorted(flags)),
                kept=in_scope(area_in_nn, wwtw_name, method),
                catchment_shares=tuple(
                    sorted((c for c in s.catchment_shares if c.area_m2 > 0), key=lambda c: c.name)
                ),
            )
        )
    return results
