"""The PATCH body sent to nrf-backend (contracts.md §3.4) and its `edps` hash.

Everything inside `edps` is a function of the quote, the reference data release and the method
versions; run-specific values (run id, time, trace id) go only into `provenance` (§3.5), so the
same assessment repeated gives the same `edps` and the same `edps_sha256`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nrf_pipeline.nutrient.calculator import CatchmentShare, NutrientResult, round2

ASSESSED = "ASSESSED"
OUT_OF_SCOPE = "OUT_OF_SCOPE"
KG_PER_YEAR = "kg/yr"


@dataclass(frozen=True)
class LayerVersion:
    layer: str
    version: int
    source_sha256: str | None


@dataclass(frozen=True)
class ReleaseInfo:
    """The reference data release the run read (reference-data.md §4)."""

    release_id: int
    layers: Sequence[LayerVersion]


@dataclass(frozen=True)
class RunInfo:
    """The run-specific values: they go into `provenance` only."""

    pipeline_run_id: str
    pipeline_version: str
    assessed_at: datetime
    trace_id: str | None


def build_payload(
    nutrient: NutrientResult | None,
    gcn_entries: list[dict[str, Any]] | None,
    nutrient_method_version: str,
    gcn_method_version: str | None,
    release: ReleaseInfo,
    run: RunInfo,
    flags: Iterable[str] = (),
) -> dict[str, Any]:
    """The §3.4 body.

    `nutrient` is None (or not `kept`) when the out-of-scope filter removed the site;
    `gcn_entries` (the GCN module's `to_edp_entries()`) is None when GCN is not applicable.
    `flags` are result flags from outside the nutrient row (GCN, quote), merged into provenance
    with the nutrient row's.
    """
    kept = nutrient if nutrient is not None and nutrient.kept else None
    edps = (_nutrient_entries(kept) if kept else []) + _by_name(gcn_entries or [])
    # A filtered-out row's flags (e.g. WWTW_NOT_IN_LOOKUP) still explain the result.
    all_flags = set(flags) | set(nutrient.flags if nutrient else ())
    return {
        "methodVersion": nutrient_method_version,
        "outcome": OUT_OF_SCOPE if kept is None and gcn_entries is None else ASSESSED,
        "edps": edps,
        "provenance": {
            "pipelineRunId": run.pipeline_run_id,
            "pipelineVersion": run.pipeline_version,
            "assessedAt": run.assessed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "traceId": run.trace_id,
            "methodVersions": {
                "nutrient": nutrient_method_version,
                "gcn": gcn_method_version if gcn_entries is not None else None,
            },
            "referenceData": {
                "releaseId": release.release_id,
                "layers": [
                    {"layer": lv.layer, "version": lv.version, "sourceSha256": lv.source_sha256}
                    for lv in sorted(release.layers, key=lambda lv: lv.layer)
                ],
            },
            "flags": sorted(all_flags),
        },
    }


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces; NaN is refused rather than written as invalid JSON."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def edps_sha256(payload: dict[str, Any]) -> str:
    """The hash stored in `assessment.edps_sha256` to recognise a repeated result (§4.2)."""
    return hashlib.sha256(canonical_json(payload["edps"]).encode("utf-8")).hexdigest()


def _by_name(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sorted by `edpName`, null last (a stable sort keeps equal names in their given order)."""
    return sorted(entries, key=lambda e: (e["edpName"] is None, e["edpName"] or ""))


def _amount(value: float) -> float | None:
    """2 dp, or null for a blank (NaN) value."""
    return None if math.isnan(value) else round2(value)


def _nutrient_entries(result: NutrientResult) -> list[dict[str, Any]]:
    """One entry per catchment name; one entry with null names for a wastewater-only site."""
    if not result.catchment_shares:
        return [_nutrient_entry(result, None)]
    return _by_name([_nutrient_entry(result, share) for share in result.catchment_shares])


def _nutrient_entry(result: NutrientResult, share: CatchmentShare | None) -> dict[str, Any]:
    catchments = []
    if share is not None:
        catchments.append({
            "label": share.name,
            "catchmentId": str(share.catchment_id),
            "catchmentOverlapPercentage": round2(share.percent(result.shape_area)),
        })
    return {
        "edpId": str(share.catchment_id) if share else None,
        "edpName": share.name if share else None,
        "edpType": "NUTRIENT",
        "methodVersion": result.method_version,
        "catchments": catchments,
        "impact": {
            # The site's totals in every entry: the backend must not add them up (§3.4).
            "basis": "SITE_TOTAL",
            "nitrogenTotal": {"amount": _amount(result.n_total), "unit": KG_PER_YEAR},
            "phosphorusTotal": {"amount": _amount(result.p_total), "unit": KG_PER_YEAR},
        },
        "detail": {
            "devAreaHa": _amount(result.dev_area_ha),
            "areaInNNCatchmentHa": _amount(result.area_in_nn_catchment),
            "dwellings": result.dwellings,
            "people": result.people,
            "nitrogenLandUsePostSuds": _amount(result.n_lu_post_suds),
            "phosphorusLandUsePostSuds": _amount(result.p_lu_post_suds),
            "nitrogenWastewaterPermanent": _amount(result.n_wwtw_perm),
            "phosphorusWastewaterPermanent": _amount(result.p_wwtw_perm),
        },
        "wastewater": {
            "wwtwId": str(result.majority_wwtw_id),
            "wwtwName": result.wwtw_name,  # unchanged, trailing spaces included (D10)
            "wwtwSubcatchment": result.wwtw_subcatchment,
            "ratesSource": result.rates_source,
        },
    }
