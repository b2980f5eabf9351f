"""The spatial step of the nutrient method in PostGIS (nutrient-method.md §2.3, §2.4, §2.10).

One query measures a whole batch: the sites travel as one WKB array parameter, and only areas and
attributes come back. Every reference table is read with `version = :v` from the release resolved
at the start of the run (reference-data.md §4.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import shapely
import sqlalchemy as sa

from nrf_pipeline.nutrient.calculator import CatchmentShare, Piece, RatesLookup, SiteSpatial, WwtwLookup
from nrf_pipeline.sites import Site

NAN = float("nan")

# One statement for the whole batch. The sites are a materialised CTE over the WKB array: one round
# trip and no catalog writes, which a TEMP table would cost on every run. The CTEs:
#   pair      (site, feature) candidates of the four polygon layers on bounding boxes (GiST),
#             sorted by feature. Consecutive rows then share the large feature geometry, which
#             PostGIS prepares once and reuses in ST_Intersects/ST_Covers; unsorted, every test
#             rebuilds it, and the batch takes about five times longer;
#   part      r ∩ f; a site inside the feature is used as it is, without an overlay. Only the
#             polygonal part is kept: a site that also touches the feature along an edge gives a
#             mixed collection, which GEOS refuses as an overlay input;
#   zone      what the coefficient parcels are cut from: r ∩ n (pieces, §2.4.1) and r ∩ n_i ∩ n_j
#             for same-name NN polygons with oid_i < oid_j (overlap pieces, §2.4.4). The NN
#             polygons are large, so each is intersected with a site once, not once per parcel;
#   majority  per site and layer the largest positive overlap, ties to the smallest attribute in
#             code-point order (§2.3, D5);
#   share     r ∩ (union of the polygons of one name) as the union of that name's r ∩ n (§2.10);
#             catchment_id is the smallest OID of the name in the layer version.
# Areas are computed in MATERIALIZED CTEs so that the `area > 0` filters do not compute them twice.
# Rows: (kind, site_no, name, code, area in m², four coefficients).
SPATIAL_SQL = sa.text(
    """
WITH site AS MATERIALIZED (
    SELECT ord::integer AS site_no, ST_GeomFromWKB(wkb, 27700) AS geom
    FROM unnest(CAST(:wkb AS bytea[])) WITH ORDINALITY AS t(wkb, ord)
),
pair AS MATERIALIZED (
    SELECT 'nn' AS kind, f.feature_id, f.n2k_site_name AS name, f.oid AS code, f.geom, s.site_no, s.geom AS site_geom
    FROM site s JOIN nrf.nn_catchments f ON f.version = :nn_catchments AND f.geom && s.geom
    UNION ALL
    SELECT 'wwtw', f.feature_id, NULL, f.wwtw_id, f.geom, s.site_no, s.geom
    FROM site s JOIN nrf.wwtw_catchments f ON f.version = :wwtw_catchments AND f.geom && s.geom
    UNION ALL
    SELECT 'lpa', f.feature_id, f.name, NULL, f.geom, s.site_no, s.geom
    FROM site s JOIN nrf.lpa_boundaries f ON f.version = :lpa_boundaries AND f.geom && s.geom
    UNION ALL
    SELECT 'subcatchment', f.feature_id, f.opcat_name, NULL, f.geom, s.site_no, s.geom
    FROM site s JOIN nrf.subcatchments f ON f.version = :subcatchments AND f.geom && s.geom
    ORDER BY kind, feature_id, site_no
),
part AS MATERIALIZED (
    SELECT kind, site_no, name, code,
           CASE WHEN ST_Covers(geom, site_geom) THEN site_geom
                ELSE ST_CollectionExtract(ST_Intersection(site_geom, geom), 3) END AS geom
    FROM pair
    WHERE ST_Intersects(geom, site_geom)
),
zone AS (
    SELECT 'piece' AS kind, site_no, name, code AS oid, geom FROM part WHERE kind = 'nn'
    UNION ALL
    SELECT 'overlap', a.site_no, a.name, a.code, ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)
    FROM part a
    JOIN part b ON b.kind = 'nn' AND b.site_no = a.site_no AND b.name = a.name AND b.code > a.code
    WHERE a.kind = 'nn' AND ST_Intersects(a.geom, b.geom)
),
piece AS MATERIALIZED (
    SELECT z.kind, z.site_no, z.name, z.oid AS code, ST_Area(ST_Intersection(z.geom, c.geom)) AS area,
           c.lu_curr_n_coeff, c.lu_curr_p_coeff, c.n_resi_coeff, c.p_resi_coeff
    FROM zone z
    JOIN nrf.coefficient_layer c ON c.version = :coefficient_layer AND ST_Intersects(z.geom, c.geom)
),
majority AS (
    SELECT DISTINCT ON (site_no, kind) kind, site_no, name, code, ST_Area(geom) AS area
    FROM part
    WHERE kind <> 'nn' AND ST_Area(geom) > 0
    ORDER BY site_no, kind, ST_Area(geom) DESC, code, name COLLATE "C"
),
share AS MATERIALIZED (
    SELECT 'share' AS kind, p.site_no, p.name, ids.catchment_id AS code,
           ST_Area(ST_Union(p.geom ORDER BY p.code)) AS area
    FROM part p
    JOIN (
        SELECT n2k_site_name AS name, min(oid) AS catchment_id
        FROM nrf.nn_catchments WHERE version = :nn_catchments GROUP BY n2k_site_name
    ) ids ON ids.name = p.name
    WHERE p.kind = 'nn'
    GROUP BY p.site_no, p.name, ids.catchment_id
)
SELECT kind, site_no, name, code, area, lu_curr_n_coeff, lu_curr_p_coeff, n_resi_coeff, p_resi_coeff
FROM piece WHERE area > 0
UNION ALL
SELECT kind, site_no, name, code, area, NULL, NULL, NULL, NULL FROM majority
UNION ALL
SELECT kind, site_no, name, code, area, NULL, NULL, NULL, NULL FROM share WHERE area > 0
"""
)

SPATIAL_LAYERS = ("coefficient_layer", "nn_catchments", "wwtw_catchments", "lpa_boundaries", "subcatchments")


def _number(value: float | None) -> float:
    return NAN if value is None else float(value)


@dataclass
class _Measurements:
    """What the query returned for one site, collected before it becomes a `SiteSpatial`."""

    majority: dict[str, object]
    pieces: list[Piece]
    overlap_pieces: list[Piece]
    shares: list[CatchmentShare]

    def spatial(self) -> SiteSpatial:
        return SiteSpatial(
            majority_wwtw_id=self.majority.get("wwtw"),
            majority_lpa=self.majority.get("lpa"),
            dev_subcatchment=self.majority.get("subcatchment"),
            pieces=tuple(self.pieces),
            overlap_pieces=tuple(self.overlap_pieces),
            catchment_shares=tuple(self.shares),
        )


def measure_sites(conn: sa.Connection, sites: Sequence[Site], versions: Mapping[str, int]) -> list[SiteSpatial]:
    """One `SiteSpatial` per site, in the order of `sites`, against the given layer versions."""
    if not sites:
        return []
    wkb = [shapely.to_wkb(site.geometry) for site in sites]
    params = {"wkb": wkb, **{layer: versions[layer] for layer in SPATIAL_LAYERS}}
    measured = [_Measurements({}, [], [], []) for _ in sites]
    for kind, site_no, name, code, area, curr_n, curr_p, resi_n, resi_p in conn.execute(SPATIAL_SQL, params):
        m = measured[site_no - 1]
        if kind == "wwtw":
            m.majority[kind] = code
        elif kind in ("lpa", "subcatchment"):
            m.majority[kind] = name
        elif kind == "share":
            m.shares.append(CatchmentShare(name, code, area))
        else:
            piece = Piece(
                name, code, area / 10_000,
                _number(curr_n), _number(curr_p), _number(resi_n), _number(resi_p),
            )
            (m.pieces if kind == "piece" else m.overlap_pieces).append(piece)
    return [m.spatial() for m in measured]


# Lookups change only with a new layer version, so they are read once per (database, layer,
# version) and kept: a reload or rollback gives a new version and so never serves stale rows.
_LOOKUP_CACHE: dict[tuple[str, str, int], WwtwLookup | RatesLookup] = {}
# Layer -> (table, builder from raw source rows).
_LOOKUPS = {
    "wwtw_lookup": ("nrf.wwtw_lookup", WwtwLookup.from_rows),
    "rates_lookup": ("nrf.rates_lookup", RatesLookup.from_rows),
}


def read_lookup(conn: sa.Connection, layer: str, version: int) -> WwtwLookup | RatesLookup:
    """The WwTW or rates lookup of one version, from the raw source values in `attributes` (so
    that non-numeric values are seen and flagged, D3), in source order (first row wins)."""
    key = (conn.engine.url.render_as_string(hide_password=True), layer, version)
    if key not in _LOOKUP_CACHE:
        table, build = _LOOKUPS[layer]
        query = sa.text(f"SELECT attributes FROM {table} WHERE version = :v ORDER BY source_row")
        _LOOKUP_CACHE[key] = build(conn.execute(query, {"v": version}).scalars())
    return _LOOKUP_CACHE[key]
