"""Hand-made assessment results for the payload, notify and backend tests.

The nutrient numbers come from the calculator run on a hand-made `SiteSpatial`, with the BnW_small
facts of nutrient-method.md §5.1: 1 dwelling, 259.392 m², River Wensum SAC (OID 31), WwTW 1065
Sculthorpe (N 27/27, P 1/1 mg/L), residential land (R = C, so no land-use uplift).
"""

from __future__ import annotations

from datetime import UTC, datetime

from shapely.geometry import box

from nrf_pipeline.nutrient.calculator import (
    CatchmentShare,
    NutrientResult,
    Piece,
    RatesLookup,
    SiteSpatial,
    WwtwLookup,
    assess_batch,
)
from nrf_pipeline.nutrient.methods import get_method
from nrf_pipeline.payload import LayerVersion, ReleaseInfo, RunInfo
from nrf_pipeline.sites import Site

NUTRIENT_VERSION, GCN_VERSION = "nrf-2026-04", "gcn-2025-11"
WENSUM, BROADS = "River Wensum SAC", "The Broads SAC"
SHAPE_AREA = 259.392  # m²

WWTW = WwtwLookup.from_rows([
    {"WwTW_code": 1065, "WwTW_name": "Sculthorpe ", "Subcatchment_name": "Wensum",
     "Nitrogen_2025_2030": 27, "Nitrogen_2030_onwards": 27, "Phosphorus_2025_2030": 1, "Phosphorus_2030_onwards": 1},
])
RATES = RatesLookup.from_rows([
    {"NN_Catchment": WENSUM, "Occ_Rate": 2.4, "Water_Usage_L_Day": 120},
    {"NN_Catchment": BROADS, "Occ_Rate": 2.4, "Water_Usage_L_Day": 120},
])
RELEASE = ReleaseInfo(12, [LayerVersion("nn_catchments", 3, "9b1e"), LayerVersion("coefficient_layer", 2, "41aa")])


def residential_piece(name: str, oid: int, area_ha: float) -> Piece:
    """Residential land: current and residential coefficients equal, so the uplift is 0."""
    return Piece(name, oid, area_ha, lu_curr_n=12.0, lu_curr_p=1.0, n_resi=12.0, p_resi=1.0)


def assess(shares: list[tuple[str, int, float]], area_m2: float = SHAPE_AREA, dwellings: int = 1,
           majority_wwtw_id: int | None = 1065) -> NutrientResult:
    """The nrf-2026-04 result of one site; `shares` are (name, smallest OID, m² inside)."""
    site = Site(rlb_id=1, geometry=box(592500, 294500, 592510, 294500 + area_m2 / 10), dwellings=dwellings,
                id="NRL-123456", name="NRL-123456", dwelling_category="housing", source="nrf-backend")
    spatial = SiteSpatial(
        majority_wwtw_id=majority_wwtw_id,
        pieces=[residential_piece(name, oid, m2 / 10_000) for name, oid, m2 in shares],
        catchment_shares=[CatchmentShare(name, oid, m2) for name, oid, m2 in shares],
    )
    (result,) = assess_batch([site], [spatial], WWTW, RATES, get_method(NUTRIENT_VERSION))
    return result


def bnw_small() -> NutrientResult:
    return assess([(WENSUM, 31, SHAPE_AREA)])


def run_info(run_id: str = "0f6c2a8e-3b1d-4a5e-9c7f-2d4b6a8c0e1f", trace_id: str | None = "6c1f0d5e9a7b4c2e",
             assessed_at: datetime = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)) -> RunInfo:
    return RunInfo(pipeline_run_id=run_id, pipeline_version="1.4.0+3e2d1c0", assessed_at=assessed_at,
                   trace_id=trace_id)


def gcn_entry(name: str | None, total: int = 7) -> dict:
    """A GCN entry in contract form (the GCN numbers of the §3.4 example)."""
    return {
        "edpId": name,
        "edpName": name,
        "edpType": "GCN",
        "methodVersion": GCN_VERSION,
        "impact": {
            "route": "NO_SURVEY",
            "bufferIncludesSite": True,
            "ponds": {
                "total": total,
                "groups": [
                    {"pans": "NS", "area": "RLB", "maxZone": "Red", "tmpImp": "F", "count": 2},
                    {"pans": "NS", "area": "Buffer", "maxZone": "Amber", "tmpImp": "F", "count": total - 2},
                ],
            },
            "habitat": [
                {"area": "RLB", "riskZone": "Red", "areaM2": 1234.56, "areaHa": 0.1235},
                {"area": "Buffer", "riskZone": "Red", "areaM2": 9876.54, "areaHa": 0.9877},
                {"area": "Buffer", "riskZone": "Amber", "areaM2": 4321.0, "areaHa": 0.4321},
            ],
        },
    }
