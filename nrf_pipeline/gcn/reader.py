"""The GCN reference features from PostGIS, and the single-site assessment the pipeline runs.

Every layer is read with `version = :v` from the release resolved at the start of the run
(reference-data.md §4.1, G4). PostGIS only selects features; every geometric step of the method
stays in the shapely core, so a database result equals a file result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry

from nrf_pipeline.gcn.assessment import Sites, assess_gcn, extent, is_applicable
from nrf_pipeline.gcn.methods import DEFAULT_METHOD, GcnMethod, get_method
from nrf_pipeline.gcn.model import EdpEdgeFeature, GcnReference, GcnResult, PondFeature, RiskZoneFeature, SurveyPond

if TYPE_CHECKING:  # both only annotate; importing them would pull in the loader and file readers
    from nrf_pipeline.quote import SurveyPondInput
    from nrf_pipeline.reference import ActiveRelease

# One round trip for the three layers. The extent travels once, as WKB. Rows:
# (layer, name, mhw, shape_length, shape_area, wkb) with `name` the RZ class, Pond_ID or EDPName.
#   rz    risk-zone features whose box meets E's; MHW is a source attribute kept in `attributes`.
#         The box test only (the core tests the geometries): the features are few but large, and
#         PostGIS's exact test on them costs more than sending one feature too many;
#   pond  national ponds meeting E, only on the no-survey route (`:national_ponds`);
#   edp   every row of each EDP name that has a row meeting E: §3.8 falls back to the dissolved
#         perimeter and area when a name has several rows, so all of them are needed.
# No ORDER BY: the core puts features in a canonical order itself.
REFERENCE_SQL = sa.text(
    """
WITH e AS MATERIALIZED (SELECT ST_GeomFromWKB(:extent, 27700) AS geom)
SELECT 'rz' AS layer, z.rz AS name, z.attributes->>'MHW' AS mhw,
       NULL::double precision AS shape_length, NULL::double precision AS shape_area,
       ST_AsBinary(ST_Force2D(z.geom)) AS wkb
FROM nrf.gcn_risk_zones z, e
WHERE z.version = :gcn_risk_zones AND z.geom && e.geom
UNION ALL
SELECT 'pond', p.pond_id, NULL, NULL, NULL, ST_AsBinary(ST_Force2D(p.geom))
FROM nrf.gcn_ponds p, e
WHERE :national_ponds AND p.version = :gcn_ponds AND ST_Intersects(p.geom, e.geom)
UNION ALL
SELECT 'edp', d.edp_name, NULL,
       CAST(d.attributes->>'Shape_Length' AS double precision),
       CAST(d.attributes->>'Shape_Area' AS double precision),
       ST_AsBinary(ST_Force2D(d.geom))
FROM nrf.edp_edges d
WHERE d.version = :edp_edges AND d.edp_name IN (
    SELECT n.edp_name FROM nrf.edp_edges n, e WHERE n.version = :edp_edges AND ST_Intersects(n.geom, e.geom)
)
"""
)


def read_gcn_reference(
    conn: sa.Connection, release: ActiveRelease, extent_geometry: BaseGeometry, national_ponds: bool = True
) -> GcnReference:
    """The risk zones, national ponds (unless `national_ponds` is False) and EDP edges near `extent_geometry` (E).

    Supersets are harmless: the core selects what meets the extent itself.
    """
    rows = conn.execute(
        REFERENCE_SQL,
        {
            "extent": shapely.to_wkb(extent_geometry),
            "national_ponds": national_ponds,
            "gcn_risk_zones": release.version("gcn_risk_zones"),
            "gcn_ponds": release.version("gcn_ponds"),
            "edp_edges": release.version("edp_edges"),
        },
    ).all()
    geometries = shapely.from_wkb(np.array([bytes(row.wkb) for row in rows], dtype=object))
    risk_zones, ponds, edp_edges = [], [], []
    for row, geometry in zip(rows, geometries):
        if row.layer == "rz":
            risk_zones.append(RiskZoneFeature(row.name, row.mhw, geometry))
        elif row.layer == "pond":
            ponds.append(PondFeature(row.name, geometry))
        else:
            edp_edges.append(EdpEdgeFeature(row.name, row.shape_length, row.shape_area, geometry))
    return GcnReference(risk_zones, ponds, edp_edges)


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
