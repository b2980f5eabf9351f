"""The GCN reference features from PostGIS, and the single-site assessment the pipeline runs.

Every layer is read with `version = :v` from the release resolved at the start of the run
(reference-data.md §4.1, G4). PostGIS only selects features; every geometric step of the method
stays in the shapely core, so a database result equals a file result.

Geometry cache. The risk-zone features are few but large (about 830 KB of WKB near the test site),
and sending and decoding them again on every assessment cost most of the read. So the database returns
only the ids and small attributes of the features near a site, and the geometries come from an
in-process cache keyed by (layer, version, source sha256, feature_id); only the ids it misses are
fetched (reference-data.md §4.1). A reload or rollback activates other versions, so the cache can
never serve stale geometry; the sha256 (when the release carries it) also keeps apart two databases
whose version numbers happen to coincide. The cache holds at most `GEOMETRY_CACHE_MAX_BYTES` of
geometry, counted as WKB bytes (close to the memory the coordinates take), and drops the least
recently used features first; a feature larger than the whole budget is used but not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry

from nrf_pipeline.gcn.assessment import Sites, assess_gcn, extent, is_applicable
from nrf_pipeline.gcn.methods import DEFAULT_METHOD, GcnMethod, get_method
from nrf_pipeline.gcn.model import EdpEdgeFeature, GcnReference, GcnResult, PondFeature, RiskZoneFeature, SurveyPond

if TYPE_CHECKING:  # both only annotate; importing them would pull in the loader and file readers
    from nrf_pipeline.quote import SurveyPondInput
    from nrf_pipeline.reference import ActiveRelease

# About 1 MB of features lies near one site, so this holds those of a hundred or more places
# (neighbouring sites share most of theirs) without holding the national layers in a worker's memory.
GEOMETRY_CACHE_MAX_BYTES = 128 * 2**20

_LAYERS = ("gcn_risk_zones", "gcn_ponds", "edp_edges")

# One round trip for the three layers, without geometry. The extent travels once, as WKB. Rows:
# (layer, feature_id, name, mhw, shape_length, shape_area), `name` the RZ class, Pond_ID or EDPName.
#   gcn_risk_zones  features whose box meets E's; MHW is a source attribute kept in `attributes`.
#                   The box test only (the core tests the geometries): the features are few but
#                   large, and PostGIS's exact test on them costs more than one feature too many;
#   gcn_ponds       national ponds meeting E, only on the no-survey route (`:national_ponds`);
#   edp_edges       every row of each EDP name that has a row meeting E: §3.8 falls back to the
#                   dissolved perimeter and area when a name has several rows, so all are needed.
# No ORDER BY: the core puts features in a canonical order itself.
FEATURES_SQL = sa.text(
    """
WITH e AS MATERIALIZED (SELECT ST_GeomFromWKB(:extent, 27700) AS geom)
SELECT 'gcn_risk_zones' AS layer, z.feature_id, z.rz AS name, z.attributes->>'MHW' AS mhw,
       NULL::double precision AS shape_length, NULL::double precision AS shape_area
FROM nrf.gcn_risk_zones z, e
WHERE z.version = :gcn_risk_zones AND z.geom && e.geom
UNION ALL
SELECT 'gcn_ponds', p.feature_id, p.pond_id, NULL, NULL, NULL
FROM nrf.gcn_ponds p, e
WHERE :national_ponds AND p.version = :gcn_ponds AND ST_Intersects(p.geom, e.geom)
UNION ALL
SELECT 'edp_edges', d.feature_id, d.edp_name, NULL,
       CAST(d.attributes->>'Shape_Length' AS double precision),
       CAST(d.attributes->>'Shape_Area' AS double precision)
FROM nrf.edp_edges d
WHERE d.version = :edp_edges AND d.edp_name IN (
    SELECT n.edp_name FROM nrf.edp_edges n, e WHERE n.version = :edp_edges AND ST_Intersects(n.geom, e.geom)
)
"""
)

# The geometries of the features the cache misses, as 2-D WKB: (layer, feature_id, wkb).
GEOMETRY_SQL = sa.text(
    """
SELECT 'gcn_risk_zones' AS layer, feature_id, ST_AsBinary(ST_Force2D(geom)) AS wkb
FROM nrf.gcn_risk_zones WHERE version = :gcn_risk_zones AND feature_id = ANY(CAST(:gcn_risk_zones_ids AS integer[]))
UNION ALL
SELECT 'gcn_ponds', feature_id, ST_AsBinary(ST_Force2D(geom))
FROM nrf.gcn_ponds WHERE version = :gcn_ponds AND feature_id = ANY(CAST(:gcn_ponds_ids AS integer[]))
UNION ALL
SELECT 'edp_edges', feature_id, ST_AsBinary(ST_Force2D(geom))
FROM nrf.edp_edges WHERE version = :edp_edges AND feature_id = ANY(CAST(:edp_edges_ids AS integer[]))
"""
)


class GeometryCache:
    """Decoded geometries by key, the least recently used dropped once their WKB exceeds `max_bytes`.

    Locked, as a worker may assess in several threads. The geometries are shared between
    assessments, which only read them.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[BaseGeometry, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, keys: Sequence[Hashable]) -> list[BaseGeometry | None]:
        """The geometry of every key, None where it is not cached."""
        found = []
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is None:
                    found.append(None)
                else:
                    self._entries.move_to_end(key)
                    found.append(entry[0])
        return found

    def put(self, key: Hashable, geometry: BaseGeometry, size: int) -> None:
        """Keep `geometry`, whose WKB has `size` bytes, unless it alone exceeds the budget."""
        if size > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)  # another thread may have fetched it too
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[key] = (geometry, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted


GEOMETRY_CACHE = GeometryCache(GEOMETRY_CACHE_MAX_BYTES)


def read_gcn_reference(
    conn: sa.Connection,
    release: ActiveRelease,
    extent_geometry: BaseGeometry,
    national_ponds: bool = True,
    cache: GeometryCache = GEOMETRY_CACHE,
) -> GcnReference:
    """The risk zones, national ponds (unless `national_ponds` is False) and EDP edges near `extent_geometry` (E).

    Supersets are harmless: the core selects what meets the extent itself.
    """
    versions = {layer: release.version(layer) for layer in _LAYERS}
    rows = conn.execute(
        FEATURES_SQL, {"extent": shapely.to_wkb(extent_geometry), "national_ponds": national_ponds, **versions}
    ).all()
    keys = [(row.layer, versions[row.layer], release.sha256.get(row.layer), row.feature_id) for row in rows]
    geometries = cache.get(keys)
    missing = [key for key, geometry in zip(keys, geometries) if geometry is None]
    if missing:
        fetched = _fetch_geometries(conn, versions, missing, cache)
        geometries = [fetched[key] if geometry is None else geometry for key, geometry in zip(keys, geometries)]

    risk_zones, ponds, edp_edges = [], [], []
    for row, geometry in zip(rows, geometries):
        if row.layer == "gcn_risk_zones":
            risk_zones.append(RiskZoneFeature(row.name, row.mhw, geometry))
        elif row.layer == "gcn_ponds":
            ponds.append(PondFeature(row.name, geometry))
        else:
            edp_edges.append(EdpEdgeFeature(row.name, row.shape_length, row.shape_area, geometry))
    return GcnReference(risk_zones, ponds, edp_edges)


def _fetch_geometries(
    conn: sa.Connection, versions: dict[str, int], keys: list[tuple], cache: GeometryCache
) -> dict[tuple, BaseGeometry]:
    """Read and decode the geometries of `keys` (layer, version, sha256, feature_id), and cache them."""
    ids: dict[str, list[int]] = {layer: [] for layer in _LAYERS}
    for layer, _, _, feature_id in keys:
        ids[layer].append(feature_id)
    rows = conn.execute(GEOMETRY_SQL, {**versions, **{f"{layer}_ids": ids[layer] for layer in _LAYERS}}).all()
    wkbs = [bytes(row.wkb) for row in rows]
    key_of = {(key[0], key[3]): key for key in keys}
    fetched = {}
    for row, wkb, geometry in zip(rows, wkbs, shapely.from_wkb(wkbs)):
        key = key_of[(row.layer, row.feature_id)]
        cache.put(key, geometry, len(wkb))
        fetched[key] = geometry
    return fetched


def assess_gcn_for_site(
    conn: sa.Connection,
    release: ActiveRelease,
    boundary: Sites,
    unique_ref: str,
    survey_ponds: Sequence[SurveyPondInput | SurveyPond] | None = None,
    method: GcnMethod | str = DEFAULT_METHOD,
) -> GcnResult | None:
    """Assess one site against `release`; None when GCN is not applicable there (G9).

    `boundary` is the quote's MultiPolygon (each part one site, G7) or, from a file, rows of
    (polygon, Id). `survey_ponds` not None selects the survey route.
    """
    method = method if isinstance(method, GcnMethod) else get_method(method)
    e = extent(boundary, method)
    reference = read_gcn_reference(conn, release, e, national_ponds=survey_ponds is None)
    if not is_applicable(e, reference.edp_edges):
        return None
    ponds = None
    if survey_ponds is not None:
        ponds = [SurveyPond(p.geometry, p.pans, p.tmp_imp, p.pond_id) for p in survey_ponds]
    return assess_gcn(boundary, unique_ref, reference, ponds, method)
