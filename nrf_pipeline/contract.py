"""A checker for the PATCH body of contracts.md §3.4, in plain Python.

The backend stub uses it to reject what the real backend should reject, and the tests use it on
every payload the pipeline builds. Objects must have exactly the listed members, so a stray
`levyGbp` or `band` (§3.4 "Left out on purpose") or a renamed field is caught.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

# ---------------------------------------------------------------------------------------------
# A tiny schema language: a dict is an object with exactly these members; `str`, `int`, `bool`
# and NUMBER are JSON types; Nullable, ListOf and OneOf wrap them.

NUMBER = float  # any finite JSON number (int or float, not bool)


@dataclass(frozen=True)
class Nullable:
    schema: Any


@dataclass(frozen=True)
class ListOf:
    schema: Any


@dataclass(frozen=True)
class OneOf:
    values: tuple


def check(value: Any, schema: Any, path: str, errors: list[str]) -> None:
    """Append to `errors` one reason per place where `value` does not fit `schema`."""
    if isinstance(schema, Nullable):
        if value is not None:
            check(value, schema.schema, path, errors)
    elif isinstance(schema, dict):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object")
            return
        for name in sorted(set(schema) - set(value)):
            errors.append(f"{path}.{name}: missing")
        for name in sorted(set(value) - set(schema)):
            errors.append(f"{path}.{name}: not allowed")
        for name in schema.keys() & value.keys():
            check(value[name], schema[name], f"{path}.{name}", errors)
    elif isinstance(schema, ListOf):
        if not isinstance(value, list):
            errors.append(f"{path}: expected an array")
            return
        for i, item in enumerate(value):
            check(item, schema.schema, f"{path}[{i}]", errors)
    elif isinstance(schema, OneOf):
        if value not in schema.values or isinstance(value, bool):
            errors.append(f"{path}: expected one of {', '.join(map(repr, schema.values))}")
    elif not _is_type(value, schema):
        errors.append(f"{path}: expected {'number' if schema is NUMBER else schema.__name__}")


def _is_type(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):  # bool is an int in Python, never in JSON
        return False
    if kind is NUMBER:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)


# ---------------------------------------------------------------------------------------------
# §3.4

AMOUNT = {"amount": NUMBER, "unit": OneOf(("kg/yr",))}

NUTRIENT_ENTRY = {
    "edpId": Nullable(str),
    "edpName": Nullable(str),
    "edpType": OneOf(("NUTRIENT",)),
    "methodVersion": str,
    "catchments": ListOf({"label": str, "catchmentId": str, "catchmentOverlapPercentage": NUMBER}),
    "impact": {"basis": OneOf(("SITE_TOTAL",)), "nitrogenTotal": AMOUNT, "phosphorusTotal": AMOUNT},
    "detail": {
        "devAreaHa": NUMBER,
        "areaInNNCatchmentHa": Nullable(NUMBER),
        "dwellings": int,
        "people": Nullable(int),
        "nitrogenLandUsePostSuds": Nullable(NUMBER),
        "phosphorusLandUsePostSuds": Nullable(NUMBER),
        "nitrogenWastewaterPermanent": Nullable(NUMBER),
        "phosphorusWastewaterPermanent": Nullable(NUMBER),
    },
    "wastewater": {
        "wwtwId": str,
        "wwtwName": Nullable(str),
        "wwtwSubcatchment": Nullable(str),
        "ratesSource": str,
    },
}

AREAS = OneOf(("RLB", "Buffer"))
GCN_ENTRY = {
    "edpId": Nullable(str),
    "edpName": Nullable(str),
    "edpType": OneOf(("GCN",)),
    "methodVersion": str,
    "impact": {
        "route": OneOf(("SURVEY", "NO_SURVEY")),
        "bufferIncludesSite": bool,
        "ponds": {
            "total": int,
            "groups": ListOf({"pans": OneOf(("P", "A", "NS")), "area": AREAS, "maxZone": str,
                              "tmpImp": OneOf(("T", "F")), "count": int}),
        },
        "habitat": ListOf({"area": AREAS, "riskZone": str, "areaM2": NUMBER, "areaHa": NUMBER}),
    },
}

BODY = {
    "methodVersion": str,
    "outcome": OneOf(("ASSESSED", "OUT_OF_SCOPE")),
    "edps": list,  # entries are checked by their edpType below
    "provenance": {
        "pipelineRunId": str,
        "pipelineVersion": str,
        "assessedAt": str,
        "traceId": Nullable(str),
        "methodVersions": {"nutrient": str, "gcn": Nullable(str)},
        "referenceData": {
            "releaseId": int,
            "layers": ListOf({"layer": str, "version": int, "sourceSha256": Nullable(str)}),
        },
        "flags": ListOf(str),
    },
}

ENTRY_SCHEMAS = {"NUTRIENT": NUTRIENT_ENTRY, "GCN": GCN_ENTRY}
UTC_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def validate_patch_body(body: Any) -> list[str]:
    """The reasons why `body` breaks §3.4; empty when it is valid."""
    errors: list[str] = []
    check(body, BODY, "$", errors)
    if errors:
        return errors
    edps, provenance = body["edps"], body["provenance"]
    versions = {"NUTRIENT": body["methodVersion"], "GCN": provenance["methodVersions"]["gcn"]}
    if provenance["methodVersions"]["nutrient"] != body["methodVersion"]:
        errors.append("$.provenance.methodVersions.nutrient: differs from $.methodVersion")
    types = []
    for i, entry in enumerate(edps):
        path = f"$.edps[{i}]"
        kind = entry.get("edpType") if isinstance(entry, dict) else None
        if kind not in ENTRY_SCHEMAS:
            errors.append(f"{path}.edpType: expected 'NUTRIENT' or 'GCN'")
            continue
        types.append(kind)
        check(entry, ENTRY_SCHEMAS[kind], path, errors)
        if entry.get("methodVersion") != versions[kind]:
            errors.append(f"{path}.methodVersion: differs from the {kind.lower()} method version")
        if kind == "NUTRIENT":
            errors += _nutrient_rules(entry, path)
    if errors:
        return errors
    if body["outcome"] == "OUT_OF_SCOPE" and edps:
        errors.append("$.edps: must be empty when the outcome is OUT_OF_SCOPE")
    if types != sorted(types, key=("NUTRIENT", "GCN").index):
        errors.append("$.edps: NUTRIENT entries must come before GCN entries")
    for kind in ENTRY_SCHEMAS:
        names = [e["edpName"] for e in edps if e["edpType"] == kind]
        if names != sorted(names, key=lambda n: (n is None, n or "")):
            errors.append(f"$.edps: {kind} entries must be sorted by edpName, null last")
    if not UTC_TIMESTAMP.match(provenance["assessedAt"]):
        errors.append("$.provenance.assessedAt: expected an ISO 8601 UTC time ending in Z")
    if provenance["flags"] != sorted(set(provenance["flags"])):
        errors.append("$.provenance.flags: must be sorted and distinct")
    return errors


def _nutrient_rules(entry: dict, path: str) -> list[str]:
    """What a schema cannot say about a nutrient entry (§3.4)."""
    errors = []
    catchments = entry.get("catchments")
    if not isinstance(catchments, list):
        return errors  # already reported by the schema check
    if entry.get("edpName") is None:
        # Wastewater only: no catchment is invented (§3.4).
        if entry.get("edpId") is not None or catchments:
            errors.append(f"{path}: a wastewater-only entry has edpId null and no catchments")
        return errors
    expected = {"label": entry["edpName"], "catchmentId": entry.get("edpId")}
    if len(catchments) != 1 or any(catchments[0].get(k) != v for k, v in expected.items()):
        errors.append(f"{path}.catchments: expected one element naming the entry's catchment")
    elif _is_type(share := catchments[0].get("catchmentOverlapPercentage"), NUMBER) and not 0 <= share <= 100:
        errors.append(f"{path}.catchments[0].catchmentOverlapPercentage: expected 0 to 100")
    return errors
