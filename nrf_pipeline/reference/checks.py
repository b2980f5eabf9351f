"""Quality checks of one layer version (reference-data.md §5.1), computed in SQL on the stored rows.

ERROR checks block: a version with a failing one gets qc_status 'failed' and cannot join an
approved release. WARN checks are recorded and shown only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from nrf_pipeline.reference.layers import LayerSpec, layer_spec

ERROR, WARN = "ERROR", "WARN"
# The British National Grid extent (§5.1 geometry_bounds).
BOUNDS = (0, 0, 700_000, 1_300_000)
COEFFICIENT_RANGES = {"lu_curr_n_coeff": 50, "n_resi_coeff": 50, "lu_curr_p_coeff": 5, "p_resi_coeff": 5}
LIST_LIMIT = 20  # items listed in a report; counts are always complete


@dataclass
class CheckResult:
    name: str
    passed: bool
    severity: str  # of the outcome: a failing ERROR blocks, a failing WARN does not
    message: str
    details: dict = field(default_factory=dict)

    @property
    def blocks(self) -> bool:
        return not self.passed and self.severity == ERROR


@dataclass(frozen=True)
class Check:
    name: str
    blocking: bool  # can fail with ERROR
    applies: Callable[[LayerSpec], bool]
    # (connection, spec, version, context with "load" statistics and "allow_shrink_reason")
    run: Callable[[sa.Connection, LayerSpec, int, dict], CheckResult]


def _scalar(conn, sql: str, **params):
    return conn.execute(sa.text(sql), params).scalar_one()


def _rows(conn, sql: str, **params) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def _count(conn, spec: LayerSpec, version: int, where: str, **params) -> int:
    return _scalar(conn, f"SELECT count(*) FROM {spec.table} WHERE version = :v AND ({where})", v=version, **params)


def _result(name: str, bad: int, severity: str, ok: str, failed: str, **details) -> CheckResult:
    return CheckResult(name, bad == 0, severity, ok if bad == 0 else failed, {"count": bad, **details})


# --- checks on every layer ---------------------------------------------------------------------

def row_count_nonzero(conn, spec, version, ctx) -> CheckResult:
    rows = _count(conn, spec, version, "true")
    return CheckResult("row_count_nonzero", rows > 0, ERROR, f"{rows} rows", {"rows": rows})


def row_count_floor(conn, spec, version, ctx) -> CheckResult:
    active = conn.execute(sa.text(
        "SELECT a.version, v.row_count FROM nrf.active_reference_data a JOIN nrf.reference_data_version v "
        "USING (layer, version) WHERE a.layer = :layer"), {"layer": spec.name}).one_or_none()
    if active is None or active.version == version:
        return CheckResult("row_count_floor", True, ERROR, "skipped: no other version of this layer is active")
    rows = _count(conn, spec, version, "true")
    floor = math.ceil(0.9 * active.row_count)
    details = {"rows": rows, "floor": floor, "active_version": active.version, "active_rows": active.row_count}
    if rows >= floor:
        return CheckResult("row_count_floor", True, ERROR, f"{rows} rows ≥ floor {floor}", details)
    if ctx.get("allow_shrink_reason"):
        reason = ctx["allow_shrink_reason"]
        return CheckResult("row_count_floor", True, ERROR, f"{rows} rows < floor {floor}, waived: {reason}",
                           details | {"waived_reason": reason})
    return CheckResult("row_count_floor", False, ERROR,
                       f"{rows} rows < floor {floor} (90 % of active version {active.version})", details)


# --- spatial layers ------------------------------------------------------------------------------

def geometry_srid(conn, spec, version, ctx) -> CheckResult:
    bad = _count(conn, spec, version, "ST_SRID(geom) <> 27700")
    return _result("geometry_srid", bad, ERROR, "all EPSG:27700", f"{bad} geometries not in EPSG:27700")


def geometry_type(conn, spec, version, ctx) -> CheckResult:
    bad = _count(conn, spec, version, "ST_GeometryType(geom) <> 'ST_MultiPolygon' OR ST_NDims(geom) <> 2")
    return _result("geometry_type", bad, ERROR, "all 2-D MultiPolygon", f"{bad} geometries not 2-D MultiPolygon")


def geometry_valid(conn, spec, version, ctx) -> CheckResult:
    invalid = _count(conn, spec, version, "NOT ST_IsValid(geom)")
    load = ctx.get("load", {})
    repaired, dropped = load.get("repaired", 0), load.get("dropped_empty", 0)
    details = {"invalid": invalid, "repaired_on_load": repaired, "dropped_empty_on_load": dropped}
    if invalid:
        return CheckResult("geometry_valid", False, ERROR, f"{invalid} invalid geometries remain", details)
    if repaired or dropped:
        return CheckResult("geometry_valid", False, WARN,
                           f"all valid; {repaired} repaired and {dropped} dropped as empty on load", details)
    return CheckResult("geometry_valid", True, ERROR, "all valid, none repaired", details)


def geometry_bounds(conn, spec, version, ctx) -> CheckResult:
    x0, y0, x1, y1 = BOUNDS
    bad = _count(conn, spec, version, "NOT (geom @ ST_MakeEnvelope(:x0, :y0, :x1, :y1, 27700))", x0=x0, y0=y0, x1=x1, y1=y1)
    return _result("geometry_bounds", bad, ERROR, "within the BNG extent", f"{bad} geometries outside E 0–700,000 / N 0–1,300,000")


# --- keys and values -----------------------------------------------------------------------------

def key_not_null(conn, spec, version, ctx) -> CheckResult:
    nulls = {c: _count(conn, spec, version, f"{c} IS NULL") for c in spec.key_not_null}
    bad = sum(nulls.values())
    return _result("key_not_null", bad, ERROR, f"{', '.join(spec.key_not_null)} never null",
                   "null keys: " + ", ".join(f"{c} {n}" for c, n in nulls.items() if n), by_column=nulls)


def key_unique(conn, spec, version, ctx) -> CheckResult:
    duplicates = {}
    for c in spec.key_unique:
        found = _rows(conn, f"SELECT {c} AS key, count(*) AS n FROM {spec.table} WHERE version = :v AND {c} IS NOT NULL "
                            f"GROUP BY {c} HAVING count(*) > 1 ORDER BY {c} LIMIT {LIST_LIMIT}", v=version)
        if found:
            duplicates[c] = found
    bad = sum(len(d) for d in duplicates.values())
    return _result("key_unique", bad, ERROR, f"{', '.join(spec.key_unique)} unique",
                   "duplicated keys: " + json.dumps(duplicates, default=str), duplicates=duplicates)


def allowed_values(conn, spec, version, ctx) -> CheckResult:
    found = _rows(conn, f"SELECT DISTINCT rz FROM {spec.table} WHERE version = :v "
                        "AND rz NOT IN ('Red', 'Amber', 'Green')", v=version)
    values = [r["rz"] for r in found]
    return _result("allowed_values", len(values), ERROR, "rz in {Red, Amber, Green}", f"rz values not allowed: {values}",
                   values=values)


def coefficient_range(conn, spec, version, ctx) -> CheckResult:
    # In PostgreSQL NaN sorts above every number, so a range test catches NaN and infinity too.
    out_of_range = " OR ".join(f"NOT ({c} BETWEEN 0 AND {top})" for c, top in COEFFICIENT_RANGES.items())
    bad = _count(conn, spec, version, out_of_range)
    nulls = _count(conn, spec, version, " OR ".join(f"{c} IS NULL" for c in COEFFICIENT_RANGES))
    details = {"out_of_range": bad, "rows_with_null": nulls, "non_numeric_on_load": ctx.get("load", {}).get("non_numeric", {})}
    if bad:
        return CheckResult("coefficient_range", False, ERROR,
                           f"{bad} parcels with a coefficient NaN, infinite or outside N 0–50 / P 0–5 kg/ha/yr", details)
    if nulls:
        return CheckResult("coefficient_range", False, WARN, f"{nulls} parcels with a null coefficient", details)
    return CheckResult("coefficient_range", True, ERROR, "every coefficient within N 0–50 / P 0–5 kg/ha/yr", details)


# --- overlaps ------------------------------------------------------------------------------------

def _overlaps(conn, spec, version, name_column: str, same: bool, min_area: float, id_column: str = "feature_id") -> list[dict]:
    # Invalid geometries (geometry_valid's ERROR) are left out: GEOS cannot intersect them.
    relation = "=" if same else "<>"
    return _rows(conn, (
        f"SELECT a.{id_column} AS a, b.{id_column} AS b, a.{name_column} AS name_a, b.{name_column} AS name_b, "
        f"ST_Area(ST_Intersection(a.geom, b.geom)) AS area FROM {spec.table} a JOIN {spec.table} b "
        f"ON b.version = a.version AND a.feature_id < b.feature_id AND a.{name_column} {relation} b.{name_column} "
        "AND ST_Intersects(a.geom, b.geom) WHERE a.version = :v AND ST_IsValid(a.geom) AND ST_IsValid(b.geom) "
        f"AND ST_Area(ST_Intersection(a.geom, b.geom)) > :min_area ORDER BY a.feature_id, b.feature_id"
    ), v=version, min_area=min_area)


def nn_same_name_overlap(conn, spec, version, ctx) -> CheckResult:
    pairs = _overlaps(conn, spec, version, "n2k_site_name", same=True, min_area=0, id_column="oid")
    # An area under three same-name polygons would be counted twice by the counted-once rule.
    triples = _scalar(conn, (
        f"SELECT count(*) FROM {spec.table} a JOIN {spec.table} b ON b.version = a.version "
        "AND a.feature_id < b.feature_id AND a.n2k_site_name = b.n2k_site_name AND ST_Intersects(a.geom, b.geom) "
        f"JOIN {spec.table} c ON c.version = a.version AND b.feature_id < c.feature_id "
        "AND c.n2k_site_name = a.n2k_site_name AND ST_Intersects(c.geom, a.geom) AND ST_Intersects(c.geom, b.geom) "
        "WHERE a.version = :v AND ST_IsValid(a.geom) AND ST_IsValid(b.geom) AND ST_IsValid(c.geom) "
        "AND ST_Area(ST_Intersection(ST_Intersection(a.geom, b.geom), c.geom)) > 0"
    ), v=version)
    details = {"pairs": pairs[:LIST_LIMIT], "pair_count": len(pairs), "triple_overlaps": triples}
    listed = "; ".join(f"{p['name_a']} OIDs {p['a']}/{p['b']}: {p['area']:.1f} m²" for p in pairs[:LIST_LIMIT])
    if triples:
        return CheckResult("nn_same_name_overlap", False, ERROR, f"{triples} areas covered by three same-name polygons", details)
    if pairs:
        return CheckResult("nn_same_name_overlap", False, WARN, f"same-name overlaps: {listed}", details)
    return CheckResult("nn_same_name_overlap", True, ERROR, "no same-name overlaps", details)


def nn_cross_name_overlap(conn, spec, version, ctx) -> CheckResult:
    pairs = _overlaps(conn, spec, version, "n2k_site_name", same=False, min_area=1.0, id_column="oid")
    return _result("nn_cross_name_overlap", len(pairs), WARN, "no overlap > 1 m² between names",
                   f"{len(pairs)} overlaps > 1 m² between different names", pairs=pairs[:LIST_LIMIT])


def edp_edges_no_overlap(conn, spec, version, ctx) -> CheckResult:
    pairs = _overlaps(conn, spec, version, "edp_name", same=False, min_area=1.0)
    return _result("edp_edges_no_overlap", len(pairs), ERROR, "no overlap > 1 m² between EDP areas",
                   f"{len(pairs)} overlaps > 1 m² between different EDPName", pairs=pairs[:LIST_LIMIT])


def wwtw_id_shared(conn, spec, version, ctx) -> CheckResult:
    shared = _scalar(conn, f"SELECT count(*) FROM (SELECT wwtw_id FROM {spec.table} WHERE version = :v "
                           "GROUP BY wwtw_id HAVING count(*) > 1) s", v=version)
    # Information only: several polygons per works are legitimate.
    return CheckResult("wwtw_id_shared", True, WARN, f"{shared} works ids have more than one polygon",
                       {"shared_ids": shared})


# --- lookups -------------------------------------------------------------------------------------

def ptp_default_present(conn, spec, version, ctx) -> CheckResult:
    concentrations = ("n_conc_2025_2030", "n_conc_2030_onwards", "p_conc_2025_2030", "p_conc_2030_onwards")
    row = conn.execute(sa.text(
        f"SELECT {', '.join(concentrations)} FROM {spec.table} WHERE version = :v AND wwtw_code = 141 "
        "ORDER BY source_row LIMIT 1"), {"v": version}).one_or_none()
    if row is None:
        return CheckResult("ptp_default_present", False, ERROR, "no row with code 141 (Package Treatment Plant default)")
    missing = [c for c, value in zip(concentrations, row) if value is None or not math.isfinite(value)]
    return _result("ptp_default_present", len(missing), ERROR, "code 141 present with four numeric concentrations",
                   f"code 141 has no numeric {', '.join(missing)}", missing=missing)


def wwtw_code_issues(conn, spec, version, ctx) -> CheckResult:
    no_code = _count(conn, spec, version, "wwtw_code IS NULL")
    duplicated = _rows(conn, f"SELECT wwtw_code AS code, array_agg(source_row ORDER BY source_row) AS rows "
                             f"FROM {spec.table} WHERE version = :v AND wwtw_code IS NOT NULL GROUP BY wwtw_code "
                             "HAVING count(*) > 1 ORDER BY wwtw_code", v=version)
    details = {"rows_without_code": no_code, "duplicated_codes": duplicated}
    if no_code or duplicated:
        return CheckResult("wwtw_code_issues", False, WARN,
                           f"{no_code} rows without a numeric code; duplicated codes (first row wins): "
                           f"{[d['code'] for d in duplicated]}", details)
    return CheckResult("wwtw_code_issues", True, WARN, "every row has a unique numeric code", details)


def lookup_invalid_values(conn, spec, version, ctx) -> CheckResult:
    key = "coalesce(wwtw_code_raw, '#' || source_row)" if spec.name == "wwtw_lookup" else "'#' || source_row"
    found = []
    for column in (c for c in spec.columns if c.kind != "text"):
        found += _rows(conn, (
            f"SELECT {key} AS key, :column AS column, attributes ->> :source AS raw FROM {spec.table} "
            f"WHERE version = :v AND {column.name} IS NULL AND attributes ->> :source IS NOT NULL ORDER BY source_row"
        ), v=version, column=column.name, source=column.source)
    listed = ", ".join(f"({f['key']!r}, {f['column']}, {f['raw']!r})" for f in found[:LIST_LIMIT])
    return _result("lookup_invalid_values", len(found), WARN, "every numeric value is a number",
                   f"{len(found)} non-numeric values: {listed}", values=found[:LIST_LIMIT])


def rates_positive(conn, spec, version, ctx) -> CheckResult:
    # "< 'Infinity'" also refuses NaN, which PostgreSQL sorts above infinity.
    bad = _count(conn, spec, version, "NOT coalesce(occupancy_rate > 0 AND occupancy_rate < 'Infinity' AND "
                                      "water_usage_l_per_person_day > 0 AND water_usage_l_per_person_day < 'Infinity', false)")
    return _result("rates_positive", bad, ERROR, "occupancy and water use numeric and > 0",
                   f"{bad} rows with occupancy or water use missing or not > 0")


def _layer(*names: str) -> Callable[[LayerSpec], bool]:
    return lambda spec: spec.name in names


CHECKS: tuple[Check, ...] = (
    Check("row_count_nonzero", True, lambda spec: True, row_count_nonzero),
    Check("row_count_floor", True, lambda spec: True, row_count_floor),
    Check("geometry_srid", True, lambda spec: spec.spatial, geometry_srid),
    Check("geometry_type", True, lambda spec: spec.spatial, geometry_type),
    Check("geometry_valid", True, lambda spec: spec.spatial, geometry_valid),
    Check("geometry_bounds", True, lambda spec: spec.spatial, geometry_bounds),
    Check("key_not_null", True, lambda spec: bool(spec.key_not_null), key_not_null),
    Check("key_unique", True, lambda spec: bool(spec.key_unique), key_unique),
    Check("allowed_values", True, _layer("gcn_risk_zones"), allowed_values),
    Check("coefficient_range", True, _layer("coefficient_layer"), coefficient_range),
    Check("nn_same_name_overlap", True, _layer("nn_catchments"), nn_same_name_overlap),
    Check("nn_cross_name_overlap", False, _layer("nn_catchments"), nn_cross_name_overlap),
    Check("edp_edges_no_overlap", True, _layer("edp_edges"), edp_edges_no_overlap),
    Check("wwtw_id_shared", False, _layer("wwtw_catchments"), wwtw_id_shared),
    Check("ptp_default_present", True, _layer("wwtw_lookup"), ptp_default_present),
    Check("wwtw_code_issues", False, _layer("wwtw_lookup"), wwtw_code_issues),
    Check("lookup_invalid_values", False, _layer("wwtw_lookup", "rates_lookup"), lookup_invalid_values),
    Check("rates_positive", True, _layer("rates_lookup"), rates_positive),
)


def layer_checks(layer: str) -> list[Check]:
    spec = layer_spec(layer)
    return [check for check in CHECKS if check.applies(spec)]


def run_checks(engine: sa.Engine, layer: str, version: int, allow_shrink_reason: str | None = None) -> list[CheckResult]:
    """Run every check of the layer on a loaded version and store qc_report and qc_status."""
    spec = layer_spec(layer)
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            "SELECT status, qc_report FROM nrf.reference_data_version WHERE layer = :layer AND version = :version"
        ), {"layer": layer, "version": version}).one()
        if row.status != "loaded":
            raise ValueError(f"reference {layer} version {version} is {row.status}, not loaded")
        load = (row.qc_report or {}).get("load", {})
        ctx = {"load": load, "allow_shrink_reason": allow_shrink_reason}
        results = [check.run(conn, spec, version, ctx) for check in layer_checks(layer)]
        status = "failed" if any(r.blocks for r in results) else "passed"
        report = {"load": load, "checks": [asdict(r) for r in results]}
        if allow_shrink_reason:
            report["allow_shrink_reason"] = allow_shrink_reason
        conn.execute(sa.text(
            "UPDATE nrf.reference_data_version SET qc_report = CAST(:report AS jsonb), qc_status = :status "
            "WHERE layer = :layer AND version = :version"
        ), {"report": json.dumps(report, default=str), "status": status, "layer": layer, "version": version})
    return results
