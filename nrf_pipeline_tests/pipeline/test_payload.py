"""The PATCH body (contracts.md §3.4), its hash (§3.5) and the contract checker."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from nrf_pipeline.contract import validate_patch_body
from nrf_pipeline.payload import build_payload, canonical_json, edps_sha256
from nrf_pipeline_tests.pipeline.results import (
    BROADS,
    GCN_VERSION,
    NUTRIENT_VERSION,
    RELEASE,
    WENSUM,
    assess,
    bnw_small,
    gcn_entry,
    run_info,
)

# The example body of contracts.md §3.4, verbatim apart from the elided hashes.
CONTRACT_EXAMPLE = {
    "methodVersion": "nrf-2026-04",
    "outcome": "ASSESSED",
    "edps": [
        {
            "edpId": "31",
            "edpName": "River Wensum SAC",
            "edpType": "NUTRIENT",
            "methodVersion": "nrf-2026-04",
            "catchments": [
                {"label": "River Wensum SAC", "catchmentId": "31", "catchmentOverlapPercentage": 100.0}
            ],
            "impact": {
                "basis": "SITE_TOTAL",
                "nitrogenTotal": {"amount": 3.07, "unit": "kg/yr"},
                "phosphorusTotal": {"amount": 0.11, "unit": "kg/yr"},
            },
            "detail": {
                "devAreaHa": 0.03, "areaInNNCatchmentHa": 0.03, "dwellings": 1, "people": None,
                "nitrogenLandUsePostSuds": 0.0, "phosphorusLandUsePostSuds": 0.0,
                "nitrogenWastewaterPermanent": 2.56, "phosphorusWastewaterPermanent": 0.09,
            },
            "wastewater": {"wwtwId": "1065", "wwtwName": "Sculthorpe ", "wwtwSubcatchment": "Wensum",
                           "ratesSource": "catchment"},
        },
        gcn_entry("AreaA"),
    ],
    "provenance": {
        "pipelineRunId": "0f6c2a8e-3b1d-4a5e-9c7f-2d4b6a8c0e1f",
        "pipelineVersion": "1.4.0+3e2d1c0",
        "assessedAt": "2026-11-30T12:34:56Z",
        "traceId": "6c1f0d5e9a7b4c2e",
        "methodVersions": {"nutrient": "nrf-2026-04", "gcn": "gcn-2025-11"},
        "referenceData": {
            "releaseId": 12,
            "layers": [
                {"layer": "nn_catchments", "version": 3, "sourceSha256": "9b1e"},
                {"layer": "coefficient_layer", "version": 2, "sourceSha256": "41aa"},
            ],
        },
        "flags": [],
    },
}


def payload(nutrient=None, gcn=None, **run):
    return build_payload(nutrient, gcn, NUTRIENT_VERSION, GCN_VERSION, RELEASE, run_info(**run))


def test_bnw_small_gives_the_contract_example():
    body = payload(bnw_small(), [gcn_entry("AreaA")])
    assert body["edps"] == CONTRACT_EXAMPLE["edps"]
    assert body["outcome"] == "ASSESSED" and body["methodVersion"] == "nrf-2026-04"
    provenance = body["provenance"]
    assert {k: v for k, v in provenance.items() if k != "referenceData"} == {
        k: v for k, v in CONTRACT_EXAMPLE["provenance"].items() if k != "referenceData"
    }
    assert provenance["referenceData"]["releaseId"] == 12
    assert validate_patch_body(body) == []
    assert validate_patch_body(CONTRACT_EXAMPLE) == []
    # Never a levy or a band (§3.4 "Left out on purpose").
    assert "levy" not in json.dumps(body).lower() and '"band"' not in json.dumps(body)


def test_out_of_scope():
    filtered = assess([], majority_wwtw_id=None)  # outside NN, PTP default: dropped by the filter
    assert not filtered.kept
    for nutrient in (None, filtered):
        body = payload(nutrient, None)
        assert body["outcome"] == "OUT_OF_SCOPE" and body["edps"] == []
        assert body["provenance"]["methodVersions"] == {"nutrient": NUTRIENT_VERSION, "gcn": None}
        assert validate_patch_body(body) == []
    # The filtered row's flags still explain the outcome.
    assert "PTP_DEFAULT" in payload(filtered, None)["provenance"]["flags"]


def test_gcn_only_when_the_nutrient_filter_removed_the_site():
    body = payload(None, [gcn_entry(None), gcn_entry("AreaB"), gcn_entry("AreaA")])
    assert body["outcome"] == "ASSESSED"
    assert [e["edpName"] for e in body["edps"]] == ["AreaA", "AreaB", None]
    assert validate_patch_body(body) == []


def test_wastewater_only_site_gets_one_entry_with_null_names():
    result = assess([])  # no NN overlap, but a real works in the lookup: kept (§2.8)
    assert result.kept
    body = payload(result, None)
    (entry,) = body["edps"]
    assert (entry["edpId"], entry["edpName"], entry["catchments"]) == (None, None, [])
    assert entry["detail"]["areaInNNCatchmentHa"] is None
    assert entry["detail"]["nitrogenLandUsePostSuds"] is None
    assert entry["wastewater"]["wwtwId"] == "1065"
    assert entry["impact"]["nitrogenTotal"] == {"amount": 3.07, "unit": "kg/yr"}
    assert validate_patch_body(body) == []


def test_multi_catchment_site_has_one_entry_per_name_with_the_site_totals():
    result = assess([(BROADS, 7, 15_000.0), (WENSUM, 31, 5_000.0)], area_m2=20_000.0, dwellings=10)
    body = payload(result, [gcn_entry("AreaA")])
    nutrient = [e for e in body["edps"] if e["edpType"] == "NUTRIENT"]
    assert [(e["edpId"], e["edpName"]) for e in nutrient] == [("31", WENSUM), ("7", BROADS)]
    assert [e["catchments"][0]["catchmentOverlapPercentage"] for e in nutrient] == [25.0, 75.0]
    assert nutrient[0]["impact"] == nutrient[1]["impact"]
    assert nutrient[0]["impact"]["nitrogenTotal"]["amount"] == result.n_total
    assert body["edps"][-1]["edpType"] == "GCN"
    assert "MULTI_CATCHMENT" in body["provenance"]["flags"]
    assert validate_patch_body(body) == []


def test_flags_are_merged_and_sorted():
    body = build_payload(bnw_small(), None, NUTRIENT_VERSION, GCN_VERSION, RELEASE, run_info(),
                         flags=["TMPIMP_DEFAULTED", "SURVEY_POND_REPAIRED"])
    assert body["provenance"]["flags"] == ["SURVEY_POND_REPAIRED", "TMPIMP_DEFAULTED"]


def test_edps_sha256_ignores_run_specific_values():
    first = payload(bnw_small(), [gcn_entry("AreaA")])
    again = payload(bnw_small(), [gcn_entry("AreaA")], run_id="another-run", trace_id=None,
                    assessed_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert first["provenance"] != again["provenance"]
    assert edps_sha256(first) == edps_sha256(again)
    changed = payload(assess([(WENSUM, 31, 259.392)], dwellings=2), [gcn_entry("AreaA")])
    assert edps_sha256(changed) != edps_sha256(first)


def test_canonical_json_is_compact_sorted_and_refuses_nan():
    assert canonical_json({"b": 1, "a": [1.5, None, "é"]}) == '{"a":[1.5,null,"é"],"b":1}'
    with pytest.raises(ValueError):
        canonical_json({"a": float("nan")})


def _broken(change) -> dict:
    body = copy.deepcopy(CONTRACT_EXAMPLE)
    change(body)
    return body


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b: b.update(levyGbp=999), "$.levyGbp: not allowed"),
        (lambda b: b["edps"][0]["impact"].update(band="mg/I TP"), "$.edps[0].impact.band: not allowed"),
        (lambda b: b["edps"][0]["impact"]["nitrogenTotal"].update(unit="kg"), "nitrogenTotal.unit: expected one of"),
        (lambda b: b.update(outcome="OUT_OF_SCOPE"), "must be empty when the outcome is OUT_OF_SCOPE"),
        (lambda b: b["edps"].reverse(), "NUTRIENT entries must come before GCN entries"),
        (lambda b: b["edps"][0]["detail"].update(dwellings=True), "$.edps[0].detail.dwellings: expected int"),
        (lambda b: b["edps"][0]["detail"].pop("people"), "$.edps[0].detail.people: missing"),
        (lambda b: b["edps"][0].update(edpName=None), "a wastewater-only entry has edpId null"),
        (lambda b: b["edps"][0]["catchments"][0].update(catchmentId="32"), "expected one element naming"),
        (lambda b: b["edps"][0]["catchments"][0].update(catchmentOverlapPercentage=100.5), "expected 0 to 100"),
        (lambda b: b["edps"][1].update(methodVersion="gcn-2025-09-ring"), "differs from the gcn method version"),
        (lambda b: b["edps"][1]["impact"]["ponds"]["groups"][0].update(pans="X"), "pans: expected one of"),
        (lambda b: b["provenance"].update(assessedAt="2026-11-30 12:34"), "expected an ISO 8601 UTC time"),
        (lambda b: b["provenance"].update(flags=["B", "A"]), "must be sorted and distinct"),
        (lambda b: b["edps"].append("x"), "$.edps[2].edpType: expected 'NUTRIENT' or 'GCN'"),
    ],
)
def test_the_checker_rejects_what_the_contract_forbids(change, reason):
    errors = validate_patch_body(_broken(change))
    assert any(reason in error for error in errors), errors


def test_the_checker_rejects_a_non_object():
    assert validate_patch_body([]) == ["$: expected an object"]
