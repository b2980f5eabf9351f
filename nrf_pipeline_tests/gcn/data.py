"""The shipped GCN test data as the core's typed inputs (what the PostGIS reader will supply)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import shapely

from nrf_pipeline.gcn.model import EdpEdgeFeature, GcnReference, PondFeature, RiskZoneFeature, SurveyPond
from nrf_pipeline_tests.paths import INPUTS_DIR, REFERENCE_DIR, SHARED_DATA

SYNTHETIC_DIR = SHARED_DATA / "synthetic"

SITE_FILE = INPUTS_DIR / "gcn" / "SiteBoundaries" / "SiteBoundary_00001.shp"
SITE_FILE_2 = INPUTS_DIR / "gcn" / "SiteBoundaries" / "SiteBoundary_00002.shp"
SURVEY_FILE = INPUTS_DIR / "gcn" / "SitePonds" / "SitePonds_00001.shp"
SYNTHETIC_PONDS_FILE = SYNTHETIC_DIR / "gcn_ponds_synthetic.gpkg"


def _value(v: Any) -> Any:
    """A missing attribute (NaN or None in the file) as None."""
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else v


@cache
def real_reference(ponds_file: Path = REFERENCE_DIR / "gcn_ponds.gpkg") -> GcnReference:
    zones = pyogrio.read_dataframe(REFERENCE_DIR / "gcn_risk_zones.gpkg")
    ponds = pyogrio.read_dataframe(ponds_file)
    edges = pyogrio.read_dataframe(REFERENCE_DIR / "edp_edges.gpkg")
    return GcnReference(
        risk_zones=[
            RiskZoneFeature(rz, _value(mhw), shapely.force_2d(g))  # the layer is 3-D: drop Z
            for rz, mhw, g in zip(zones["RZ"], zones["MHW"], zones.geometry)
        ],
        ponds=[PondFeature(_value(pond_id), g) for pond_id, g in zip(ponds["Pond_ID"], ponds.geometry)],
        edp_edges=[
            EdpEdgeFeature(name, _value(length), _value(area), g)
            for name, length, area, g in zip(
                edges["EDPName"], edges["Shape_Length"], edges["Shape_Area"], edges.geometry
            )
        ],
    )


@cache
def real_sites(site_file: Path = SITE_FILE) -> tuple[tuple[Any, int], ...]:
    sites = pyogrio.read_dataframe(site_file)
    return tuple((g, int(i)) for g, i in zip(sites.geometry, sites["Id"]))


@cache
def real_survey_ponds() -> tuple[SurveyPond, ...]:
    ponds = pyogrio.read_dataframe(SURVEY_FILE)
    return tuple(SurveyPond(g, pans, tmp) for g, pans, tmp in zip(ponds.geometry, ponds["PANS"], ponds["TmpImp"]))
