"""One assessment of one quote, free of Dagster: the steps the assessment job's ops call.

contracts.md §0: resolve the release → fetch and validate the quote → nutrient and, where it
applies, GCN → store → PATCH → applicant e-mail. Any failure fails the whole assessment: a partial
result is never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from nrf_pipeline import store
from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.gcn.methods import GcnMethod
from nrf_pipeline.gcn.reader import assess_gcn_for_site
from nrf_pipeline.nutrient.assess import assess_sites
from nrf_pipeline.nutrient.methods import NutrientMethod
from nrf_pipeline.payload import LayerVersion, ReleaseInfo, RunInfo, build_payload, edps_sha256
from nrf_pipeline.quote import QuoteInput
from nrf_pipeline.reference import REQUIRED_LAYERS, ActiveRelease, resolve_active_release


@dataclass(frozen=True)
class Outcome:
    """What the run sends and what an operator wants to see of it."""

    payload: dict
    edps_sha256: str
    outcome: str
    summary: dict  # small figures for the run's metadata


def resolve_release(conn: sa.Connection) -> ActiveRelease:
    """The release this run reads throughout (reference-data.md §4.1)."""
    return resolve_active_release(conn, REQUIRED_LAYERS)


def assess_quote(conn: sa.Connection, quote: QuoteInput, release: ActiveRelease, nutrient_method: NutrientMethod,
                 gcn_method: GcnMethod, run: RunInfo) -> Outcome:
    """Nutrient and GCN results for the quote, as the PATCH body; raises AssessmentError."""
    try:
        nutrient = assess_sites(conn, [quote.to_site()], nutrient_method, release).results[0]
    except AssessmentError:
        raise
    except Exception as exc:  # the log has the stack trace; the summary stays free of input data
        raise AssessmentError("assessment_error", "the nutrient assessment failed unexpectedly") from exc
    try:
        gcn = assess_gcn_for_site(conn, release, quote.boundary, quote.reference,
                                  list(quote.survey_ponds) if quote.survey_ponds is not None else None, gcn_method)
    except AssessmentError:
        raise
    except Exception as exc:
        raise AssessmentError("assessment_error", "the GCN assessment failed unexpectedly") from exc

    release_info = ReleaseInfo(release.release_id, [
        LayerVersion(layer, version, release.sha256.get(layer)) for layer, version in sorted(release.versions.items())
    ])
    payload = build_payload(
        nutrient, gcn.to_edp_entries() if gcn else None, nutrient_method.name, gcn_method.name if gcn else None,
        release_info, run, flags=set(quote.flags) | set(gcn.flags if gcn else ()),
    )
    summary = {
        "site_area_ha": nutrient.dev_area_ha,
        "nn_catchments": nutrient.nn_catchment if nutrient.kept else None,
        "wwtw": f"{nutrient.majority_wwtw_id} {nutrient.wwtw_name or ''}".strip(),
        "n_total_kg_yr": nutrient.n_total if nutrient.kept else None,
        "p_total_kg_yr": nutrient.p_total if nutrient.kept else None,
        "gcn_applicable": gcn is not None,
        "outcome": payload["outcome"],
    }
    return Outcome(payload, edps_sha256(payload), payload["outcome"], summary)


def record(conn: sa.Connection, assessment_id, quote: QuoteInput, outcome: Outcome) -> None:
    inputs = {
        "dwellings": quote.dwellings, "people": quote.people, "development_types": list(quote.development_types),
        "survey_pond_count": None if quote.survey_ponds is None else len(quote.survey_ponds),
        "crs_as_received": quote.crs_as_received,
    }
    store.record_result(conn, assessment_id, inputs=inputs, site=quote.boundary, result=outcome.summary,
                        payload=outcome.payload, edps_sha256=outcome.edps_sha256, outcome=outcome.outcome)


def now() -> datetime:
    return datetime.now(UTC)
