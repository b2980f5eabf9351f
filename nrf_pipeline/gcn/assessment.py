"""The GCN assessment (gcn-method.md §3): every geometric step in shapely (GEOS).

Reference features are put in a canonical order (by WKB) before any union, so the order a reader
delivers them in cannot change a result, not even in the last bit.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.gcn.methods import DEFAULT_METHOD, GcnMethod, get_method
from nrf_pipeline.gcn.model import (
    FLAG_SURVEY_POND_REPAIRED,
    FLAG_TMPIMP_DEFAULTED,
    PANS_VALUES,
    RZ_INDEX,
    TMPIMP_VALUES,
    EdpEdgeFeature,
    EdpSummary,
    GcnReference,
    GcnResult,
    HabitatRow,
    HabitatSplitRow,
    HabitatTotal,
    PondDetail,
    PondFeature,
    PondFrequencyRow,
    PondFrequencySplitRow,
    RiskZoneFeature,
    SurveyPond,
)

# One site boundary (split per G7) or a list of (polygon, Id or None) rows.
Sites = BaseGeometry | Sequence[tuple[BaseGeometry, Any]]

MAX_SURVEY_PONDS = 20_000  # contracts.md §2.2
# The EDP edges are clipped to the extent's box widened by this, so every habitat piece (snapped
# to the grid, so possibly 0.1 mm outside E) lies well inside the clipped geometry.
_EDP_WINDOW_MARGIN_M = 1.0


@dataclass(frozen=True)
class _Site:
    index: int
    geometry: BaseGeometry
    id: Any


@dataclass(frozen=True)
class _Pond:
    pond_id: str
    pans: str
    tmp_imp: str
    geometry: BaseGeometry


@dataclass(frozen=True)
class _Zone:
    rz: str
    index: int
    mhw: str | None
    geometry: BaseGeometry  # clipped to E and dissolved (§3.3)


@dataclass(frozen=True)
class _Edp:
    name: str
    shape_length: float
    shape_area: float
    geometry: BaseGeometry  # dissolved, clipped to a window around E, snapped


@dataclass(frozen=True)
class _BufferedRow:
    """A row of the list "sites, then buffer rows" (§3.6 step 3)."""

    area: str
    id: Any
    unique_site: str
    orig_fid: int
    unique_buffer_site: str | None
    geometry: BaseGeometry


def extent(sites: Sites, method: GcnMethod | str = DEFAULT_METHOD) -> BaseGeometry:
    """The extent `E` (§3.2): the sites buffered by 250 m, dissolved and snapped.

    The database reader selects the reference features that intersect it.
    """
    method = _resolve(method)
    return _site_buffer(_prepare_sites(sites), method)


def is_applicable(extent: BaseGeometry, edp_edges: Iterable[EdpEdgeFeature]) -> bool:
    """G9: GCN runs only when the extent meets at least one EDP edge polygon."""
    geometries = [edge[3] for edge in edp_edges]
    return bool(geometries) and bool(shapely.intersects(extent, geometries).any())


def assess_gcn(
    sites: Sites,
    unique_ref: str,
    reference: GcnReference,
    survey_ponds: Sequence[SurveyPond] | None = None,
    method: GcnMethod | str = DEFAULT_METHOD,
) -> GcnResult:
    """Assess one quote (§3.1–§3.8). `survey_ponds` not None (even empty) selects the survey route."""
    method = _resolve(method)
    if not unique_ref:
        raise ValueError("unique_ref is required")
    flags: set[str] = set()

    # §3.1–§3.2
    site_rows = _prepare_sites(sites)
    site_geometries = np.array([s.geometry for s in site_rows], dtype=object)
    buffer_geometry = _site_buffer(site_rows, method)
    e = buffer_geometry  # §3.2 step 3: E = union(sites, B) = B
    shapely.prepare(e)
    site_union = shapely.union_all(site_geometries)
    shapely.prepare(site_union)
    rows = _site_rows(site_rows, unique_ref, method) + _buffer_rows(buffer_geometry, site_union, unique_ref, method)

    # §3.3–§3.5
    zones = _risk_zone_classes(reference.risk_zones, e)
    if survey_ponds is None:
        route = "NO_SURVEY"
        ponds = _national_ponds(reference.ponds, e)
    else:
        route = "SURVEY"
        ponds = _survey_ponds(survey_ponds, flags)
    ponds, areas, pond_geometries = _assign_ponds(ponds, e, site_union)

    # §3.6–§3.7
    habitat = _habitat(rows, zones, pond_geometries, unique_ref, method)
    zone_names = _zones_touched(zones, pond_geometries)

    # §3.8
    edps = _edp_areas(reference.edp_edges, e, method)
    habitat_split = _habitat_split(habitat, edps, method)
    pond_edp = _pond_edp_names(pond_geometries, edps)

    details = tuple(
        PondDetail(
            pond_id=pond.pond_id,
            pans=pond.pans,
            tmp_imp=pond.tmp_imp,
            area=area,
            concatenate_rz=":".join(names) or None,
            max_zone=max(names, key=RZ_INDEX.__getitem__) if names else None,  # Red > Amber > Green
            edp_name=edp_name,
            geometry=geometry,
        )
        for pond, area, geometry, names, edp_name in zip(ponds, areas, pond_geometries, zone_names, pond_edp)
    )
    # §3.7 step 2: ponds that touch no risk zone are not counted.
    counted = [d for d in details if d.max_zone is not None]
    frequency = Counter((d.pans, d.area, d.max_zone, d.tmp_imp) for d in counted)
    split_frequency = Counter((d.pans, d.area, d.max_zone, d.tmp_imp, d.edp_name or "") for d in counted)
    pond_frequency = tuple(PondFrequencyRow(*key, n) for key, n in sorted(frequency.items()))
    pond_frequency_split = tuple(
        PondFrequencySplitRow(*key[:4], key[4] or None, n) for key, n in sorted(split_frequency.items())
    )

    return GcnResult(
        method_version=method.name,
        buffer_includes_site=method.buffer_includes_site,
        route=route,
        unique_ref=unique_ref,
        habitat_impact=habitat,
        pond_frequency=pond_frequency,
        habitat_split=habitat_split,
        pond_frequency_split=pond_frequency_split,
        pond_detail=details,
        summaries=_summaries(habitat_split, pond_frequency_split, edps, e),
        flags=tuple(sorted(flags)),
    )


def _resolve(method: GcnMethod | str) -> GcnMethod:
    return method if isinstance(method, GcnMethod) else get_method(method)


def _snap(geometry: Any, method: GcnMethod) -> Any:
    return shapely.set_precision(geometry, method.grid_size)


def _polygons(geometry: BaseGeometry) -> list[BaseGeometry]:
    """Drop Z, repair with make-valid (a no-op on valid input), split into polygons (§3.1)."""
    geometry = shapely.force_2d(geometry)
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    # Parts of parts: make-valid can return a collection that holds a MultiPolygon.
    return [p for p in shapely.get_parts(shapely.get_parts(geometry)) if p.geom_type == "Polygon" and not p.is_empty]


def _areal(geometry: BaseGeometry) -> BaseGeometry:
    """The polygons of an overlay result: edges the operands merely share are no habitat."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    return shapely.MultiPolygon([p for p in shapely.get_parts(geometry) if p.geom_type == "Polygon"])


def _prepare_sites(sites: Sites) -> list[_Site]:
    """§3.1 and G7: one site row per polygon, numbered in input order; every part keeps its row's Id."""
    items = [(sites, None)] if isinstance(sites, BaseGeometry) else sites
    prepared: list[_Site] = []
    for geometry, site_id in items:
        for polygon in _polygons(geometry):
            prepared.append(_Site(len(prepared), polygon, site_id))
    if not prepared:
        raise AssessmentError("invalid_geometry", "the GCN site boundary has no polygon")
    return prepared


def _buffer_union(geometries: Sequence[BaseGeometry], distance: float, method: GcnMethod) -> BaseGeometry:
    buffers = shapely.buffer(np.asarray(geometries, dtype=object), distance, quad_segs=method.quad_segs)
    return _snap(shapely.union_all(buffers), method)


def _site_buffer(sites: list[_Site], method: GcnMethod) -> BaseGeometry:
    """`B` of §3.2 step 1."""
    return _buffer_union([s.geometry for s in sites], method.site_buffer_m, method)


def _site_rows(sites: list[_Site], unique_ref: str, method: GcnMethod) -> list[_BufferedRow]:
    return [
        _BufferedRow("RLB", s.id, f"{unique_ref}_Site{s.index + 1:05d}", s.index, None, _snap(s.geometry, method))
        for s in sites
    ]


def _buffer_rows(
    buffer_geometry: BaseGeometry, site_union: BaseGeometry, unique_ref: str, method: GcnMethod
) -> list[_BufferedRow]:
    """§3.2 step 2: the whole buffer, or the ring split into its parts."""
    if method.buffer_includes_site:
        parts = [buffer_geometry]
    else:
        ring = _snap(shapely.difference(buffer_geometry, site_union), method)
        parts = list(shapely.get_parts(ring))
    rows = []
    for i, part in enumerate(parts):
        name = f"{unique_ref}_Buffer{i + 1:05d}"
        rows.append(_BufferedRow("Buffer", None, name, i, name, part))
    return rows


def _canonical_order(geometries: np.ndarray, tiebreak: Sequence[str]) -> list[int]:
    """Positions sorted by (WKB, tiebreak): the order a reader delivered the features in changes nothing."""
    if len(geometries) < 2:
        return list(range(len(geometries)))
    wkb = shapely.to_wkb(geometries)
    return sorted(range(len(geometries)), key=lambda i: (wkb[i], tiebreak[i]))


def _risk_zone_classes(features: Iterable[RiskZoneFeature], e: BaseGeometry) -> list[_Zone]:
    """§3.3: features meeting E, clipped to E, dissolved per class, in index order."""
    features = list(features)
    if not features:
        return []
    hits = shapely.intersects(e, np.array([f[2] for f in features], dtype=object))
    by_class: dict[str, list[RiskZoneFeature]] = {}
    for feature, hit in zip(features, hits):
        if hit:
            if feature[0] not in RZ_INDEX:
                raise AssessmentError("assessment_error", "a GCN risk zone has an unknown RZ class")
            by_class.setdefault(feature[0], []).append(feature)
    zones = []
    for rz in sorted(by_class, key=RZ_INDEX.__getitem__):
        members = by_class[rz]
        geometries = np.array([f[2] for f in members], dtype=object)
        order = _canonical_order(geometries, [f[1] or "" for f in members])
        geometry = shapely.union_all(shapely.intersection(geometries[order], e))
        shapely.prepare(geometry)
        mhw_values = {f[1] for f in members}
        mhw = next(iter(mhw_values)) if len(mhw_values) == 1 else None  # §4.1: shared value or empty
        zones.append(_Zone(rz, RZ_INDEX[rz], mhw, geometry))
    return zones


def _national_ponds(features: Iterable[PondFeature], e: BaseGeometry) -> list[_Pond]:
    """§3.4 no-survey route: the national ponds meeting E, all `NS`/`F`.

    A pond without `Pond_ID` is numbered by its 1-based position in the canonical order.
    """
    features = list(features)
    if not features:
        return []
    geometries = np.array([f[1] for f in features], dtype=object)
    selected = np.flatnonzero(shapely.intersects(e, geometries))
    order = _canonical_order(geometries[selected], [features[i][0] or "" for i in selected])
    ponds = []
    for position, i in enumerate(selected[order], start=1):
        pond_id, geometry = features[i]
        ponds.append(_Pond(pond_id or str(position), "NS", "F", geometry))
    return ponds


def _survey_ponds(ponds: Sequence[SurveyPond], flags: set[str]) -> list[_Pond]:
    """§3.4 survey route and G8: validate PANS/TmpImp and geometry; absent ponds stay in."""
    if len(ponds) > MAX_SURVEY_PONDS:
        raise AssessmentError("invalid_survey_ponds", "more than 20,000 survey ponds")
    for pond in ponds:
        if pond.pans not in PANS_VALUES:
            raise AssessmentError("invalid_survey_ponds", "a survey pond has no PANS or one not P, A or NS")
        if pond.tmp_imp is not None and pond.tmp_imp not in TMPIMP_VALUES:
            raise AssessmentError("invalid_survey_ponds", "a survey pond has a TmpImp other than T or F")
    if any(pond.tmp_imp is None for pond in ponds):
        flags.add(FLAG_TMPIMP_DEFAULTED)

    geometries = np.array([pond.geometry for pond in ponds], dtype=object)
    # Polygon = 3, MultiPolygon = 6; None has type -1.
    if not np.isin(shapely.get_type_id(geometries), (3, 6)).all() or shapely.is_empty(geometries).any():
        raise AssessmentError("invalid_survey_ponds", "a survey pond has no polygon geometry")
    if shapely.has_z(geometries).any():
        geometries = shapely.force_2d(geometries)
    for i in np.flatnonzero(~shapely.is_valid(geometries)):
        flags.add(FLAG_SURVEY_POND_REPAIRED)
        parts = _polygons(geometries[i])
        if not parts:
            raise AssessmentError("invalid_survey_ponds", "a survey pond geometry cannot be repaired")
        geometries[i] = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    return [
        _Pond(pond.pond_id or str(position), pond.pans, pond.tmp_imp or "F", geometry)
        for position, (pond, geometry) in enumerate(zip(ponds, geometries), start=1)
    ]


def _assign_ponds(
    ponds: list[_Pond], e: BaseGeometry, site_union: BaseGeometry
) -> tuple[list[_Pond], list[str], np.ndarray]:
    """§3.5, in this order: clip to E, test against the sites, clip RLB ponds to the sites."""
    if not ponds:
        return [], [], np.array([], dtype=object)
    geometries = np.array([p.geometry for p in ponds], dtype=object)
    candidates = np.flatnonzero(shapely.intersects(e, geometries))
    # Always overlay, even a pond inside E: GEOS buffers depend on a ring's start vertex, which the
    # overlay normalises, and the baselines were made from overlaid ponds (up to 1e-7 relative).
    clipped = shapely.intersection(geometries[candidates], e)
    kept = ~shapely.is_empty(clipped)
    ponds = [ponds[i] for i in candidates[kept]]
    clipped = clipped[kept]
    rlb = shapely.intersects(site_union, clipped)
    assigned = clipped.copy()
    assigned[rlb] = shapely.intersection(clipped[rlb], site_union)
    areas = ["RLB" if r else "Buffer" for r in rlb]
    return ponds, areas, assigned


def _habitat(
    rows: list[_BufferedRow],
    zones: list[_Zone],
    pond_geometries: np.ndarray,
    unique_ref: str,
    method: GcnMethod,
) -> tuple[HabitatRow, ...]:
    """§3.6: snap(snap(row) ∩ snap(class ∩ P)) for every row, then class; positive areas only."""
    if not zones or len(pond_geometries) == 0:
        return ()
    reach = _buffer_union(pond_geometries, method.pond_buffer_m, method)  # P
    zones_in_reach = [(zone, _snap(shapely.intersection(zone.geometry, reach), method)) for zone in zones]
    habitat = []
    for fid, row in enumerate(rows):
        for zone, zone_in_reach in zones_in_reach:
            piece = _areal(_snap(shapely.intersection(row.geometry, zone_in_reach), method))
            if piece.area > 0:
                habitat.append(
                    HabitatRow(
                        fid=fid,
                        id=row.id,
                        unique_ref=unique_ref,
                        unique_site=row.unique_site,
                        orig_fid=row.orig_fid,
                        area=row.area,
                        unique_buffer_site=row.unique_buffer_site,
                        rz_index=zone.index,
                        mhw=zone.mhw,
                        rz=zone.rz,
                        shape_length=piece.length,
                        shape_area=piece.area,
                        geometry=piece,
                    )
                )
    return tuple(habitat)


def _zones_touched(zones: list[_Zone], pond_geometries: np.ndarray) -> list[list[str]]:
    """§3.7 steps 2–3: per pond, the distinct classes its assigned geometry intersects, by name."""
    touched: list[list[str]] = [[] for _ in pond_geometries]
    for zone in sorted(zones, key=lambda z: z.rz):
        for names, hit in zip(touched, shapely.intersects(zone.geometry, pond_geometries)):
            if hit:
                names.append(zone.rz)
    return touched


def _present(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _edp_areas(features: Iterable[EdpEdgeFeature], e: BaseGeometry, method: GcnMethod) -> list[_Edp]:
    """§3.8 preparation: dissolve by EDPName, carry Shape_Length/Shape_Area; sorted by name.

    Only the part near E matters for the split, so each geometry is clipped to a window around E
    before it is snapped (pieces and ponds all lie inside E).
    """
    by_name: dict[str, list[EdpEdgeFeature]] = {}
    for feature in features:
        by_name.setdefault(feature[0], []).append(feature)
    minx, miny, maxx, maxy = e.bounds
    m = _EDP_WINDOW_MARGIN_M
    window = shapely.box(minx - m, miny - m, maxx + m, maxy + m)
    edps = []
    for name in sorted(by_name):
        members = by_name[name]
        geometries = np.array([f[3] for f in members], dtype=object)
        geometries = geometries[_canonical_order(geometries, [""] * len(members))]
        if len(members) == 1 and _present(members[0][1]) and _present(members[0][2]):
            shape_length, shape_area = float(members[0][1]), float(members[0][2])
        else:
            whole = shapely.union_all(geometries)
            shape_length, shape_area = whole.length, whole.area
        near = _snap(shapely.union_all(shapely.intersection(geometries, window)), method)
        if near.is_empty:
            continue
        shapely.prepare(near)
        edps.append(_Edp(name, shape_length, shape_area, near))
    return edps


def _habitat_split(habitat: tuple[HabitatRow, ...], edps: list[_Edp], method: GcnMethod) -> tuple[HabitatSplitRow, ...]:
    """§3.8 habitat split: the piece ∩ each EDP; the remainder outside all of them if ≥ 1 m².

    Rows follow the habitat table, then EDPName (the empty name first, as in code-point order).
    """
    covered = _snap(shapely.union_all([edp.geometry for edp in edps]), method)
    shapely.prepare(covered)
    split = []
    for row in habitat:
        if not shapely.contains_properly(covered, row.geometry):
            remainder = _snap(shapely.difference(row.geometry, covered), method).area
            if remainder >= method.edp_remainder_min_m2:
                split.append(HabitatSplitRow(row, None, None, None, remainder))
        for edp in edps:
            if shapely.contains_properly(edp.geometry, row.geometry):
                part_area = row.shape_area
            elif shapely.intersects(edp.geometry, row.geometry):
                part_area = _snap(shapely.intersection(row.geometry, edp.geometry), method).area
            else:
                continue
            if part_area > 0:
                split.append(HabitatSplitRow(row, edp.name, edp.shape_length, edp.shape_area, part_area))
    return tuple(split)


def _pond_edp_names(pond_geometries: np.ndarray, edps: list[_Edp]) -> list[str | None]:
    """G6: the EDP name with the largest overlap; ties to the name that sorts first; none → None."""
    best_area = np.zeros(len(pond_geometries))
    best_name: list[str | None] = [None] * len(pond_geometries)
    for edp in edps:  # sorted by name, and only a strictly larger overlap wins: ties stay first
        inside = shapely.contains_properly(edp.geometry, pond_geometries)
        partial = shapely.intersects(edp.geometry, pond_geometries) & ~inside
        overlap = np.zeros(len(pond_geometries))
        overlap[inside] = shapely.area(pond_geometries[inside])
        overlap[partial] = shapely.area(shapely.intersection(pond_geometries[partial], edp.geometry))
        for i in np.flatnonzero(overlap > best_area):
            best_area[i] = overlap[i]
            best_name[i] = edp.name
    return best_name


def _summaries(
    habitat_split: tuple[HabitatSplitRow, ...],
    pond_split: tuple[PondFrequencySplitRow, ...],
    edps: list[_Edp],
    e: BaseGeometry,
) -> tuple[EdpSummary, ...]:
    """§4.5: per EDP name, pond groups and habitat per (Area, RZ).

    Every EDP edge that E meets gets a summary, even with nothing in it, so an applicable
    assessment always says which EDP areas it covered; the empty name only when present.
    """
    names: set[str | None] = {edp.name for edp in edps if shapely.intersects(e, edp.geometry)}
    names |= {r.edp_name for r in habitat_split} | {r.edp_name for r in pond_split}
    summaries = []
    for name in sorted(names, key=lambda n: (n is None, n or "")):
        groups = tuple(
            PondFrequencyRow(r.pans, r.area, r.max_zone, r.tmp_imp, r.frequency)
            for r in pond_split
            if r.edp_name == name
        )
        sums: dict[tuple[str, str], float] = {}
        for r in habitat_split:
            if r.edp_name == name:
                key = (r.habitat.area, r.habitat.rz)
                sums[key] = sums.get(key, 0.0) + r.shape_area
        habitat = tuple(
            HabitatTotal(area, rz, sums[(area, rz)])
            for area in ("RLB", "Buffer")
            for rz in ("Red", "Amber", "Green")
            if sums.get((area, rz), 0.0) > 0
        )
        summaries.append(EdpSummary(name, groups, habitat))
    return tuple(summaries)
