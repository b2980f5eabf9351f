"""The quote from nrf-backend (contracts.md §2.2, §2.3), validated into a `QuoteInput`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry

from nrf_pipeline import geometry
from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.sites import Site

HOUSING = "housing"
OTHER_RESIDENTIAL = "other-residential"
DEVELOPMENT_TYPES = (HOUSING, OTHER_RESIDENTIAL)
MAX_COUNT = 999_999
MAX_SURVEY_PONDS = 20_000
PANS_VALUES = ("P", "A", "NS")
TMPIMP_VALUES = ("T", "F")


@dataclass(frozen=True)
class SurveyPondInput:
    """One pond of `gcnSurveyPonds`, geometry 2-D in EPSG:27700 (repaired when it was invalid)."""

    geometry: MultiPolygon
    pans: str
    tmp_imp: str
    pond_id: str | None


@dataclass(frozen=True)
class QuoteInput:
    reference: str
    boundary: MultiPolygon
    # The `crs` name of the boundary as received; None when the member was absent (BNG).
    crs_as_received: str | None
    dwellings: int
    people: int | None
    development_types: tuple[str, ...]
    dwelling_category: str
    # Personal data: kept in memory for the applicant e-mail only, so out of repr and to_dict.
    email: str | None = field(repr=False)
    survey_ponds: tuple[SurveyPondInput, ...] | None
    flags: tuple[str, ...]

    def to_dict(self) -> dict:
        """The storable form (no e-mail address)."""
        return {
            "reference": self.reference,
            "boundary": shapely.geometry.mapping(self.boundary),
            "crs_as_received": self.crs_as_received,
            "dwellings": self.dwellings,
            "people": self.people,
            "development_types": list(self.development_types),
            "dwelling_category": self.dwelling_category,
            "survey_ponds": None
            if self.survey_ponds is None
            else [
                {
                    "geometry": shapely.geometry.mapping(pond.geometry),
                    "pans": pond.pans,
                    "tmp_imp": pond.tmp_imp,
                    "pond_id": pond.pond_id,
                }
                for pond in self.survey_ponds
            ],
            "flags": list(self.flags),
        }

    def to_site(self) -> Site:
        """The single production site of nutrient-method.md §2.1."""
        return Site(
            rlb_id=1,
            geometry=self.boundary,
            dwellings=self.dwellings,
            id=self.reference,
            name=self.reference,
            dwelling_category=self.dwelling_category,
            source="nrf-backend",
            people=self.people,
            flags=self.flags,
        )


def parse_quote(reference: str, quote_json: object) -> QuoteInput:
    """Validate the quote fetched for `reference`; raises `AssessmentError` (contracts.md §6)."""
    if not isinstance(quote_json, dict) or quote_json.get("reference") != reference:
        raise AssessmentError("quote_reference_mismatch", "the quote's reference is not the one requested")
    flags: set[str] = set()

    boundary_geojson = quote_json.get("boundaryGeojson")
    original = None
    if isinstance(boundary_geojson, dict):
        original = boundary_geojson.get("boundaryGeometryOriginal")
    boundary = geometry.boundary_from_geojson(original, default_crs=geometry.BNG)

    development_types = _development_types(quote_json.get("developmentTypes"), flags)
    dwellings = _dwellings(quote_json)
    if HOUSING in development_types and dwellings < 1:
        raise AssessmentError("missing_housing_units", "a housing development needs at least 1 housing unit")
    people = _people(quote_json, development_types)

    email = quote_json.get("email")
    return QuoteInput(
        reference=reference,
        boundary=boundary,
        crs_as_received=original["crs"]["properties"]["name"] if original.get("crs") else None,
        dwellings=dwellings,
        people=people,
        development_types=development_types,
        dwelling_category=development_types[0],
        email=email if isinstance(email, str) else None,
        survey_ponds=_survey_ponds(quote_json.get("gcnSurveyPonds"), flags),
        flags=tuple(sorted(flags)),
    )


def _development_types(value: object, flags: set[str]) -> tuple[str, ...]:
    # A lone value that is not an array is read as a one-element array.
    values = value if isinstance(value, list) else [] if value is None else [value]
    if any(v not in DEVELOPMENT_TYPES for v in values):
        flags.add("UNKNOWN_DEVELOPMENT_TYPE")
    known = tuple(dict.fromkeys(v for v in values if v in DEVELOPMENT_TYPES))  # dedupe, keep order
    # No known type (absent, empty or all unknown) means housing, so the housing-units rule
    # applies rather than a silent zero.
    return known or (HOUSING,)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def _dwellings(quote_json: dict) -> int:
    # A null member counts as absent.
    present = [
        quote_json[name]
        for name in ("housingUnits", "residentialBuildingCount")
        if quote_json.get(name) is not None
    ]
    if not all(_is_count(value) for value in present):
        raise AssessmentError("invalid_housing_units", "housing units must be a whole number 0-999,999")
    if len(set(present)) > 1:
        raise AssessmentError(
            "conflicting_housing_units", "housingUnits and residentialBuildingCount have different values"
        )
    return present[0] if present else 0


def _people(quote_json: dict, development_types: tuple[str, ...]) -> int | None:
    value = quote_json.get("peopleCount")
    people = value if _is_count(value) else None
    if OTHER_RESIDENTIAL in development_types:
        # A count that is present but unusable is as good as missing when it would be used.
        unusable = value is not None and people is None
        missing = development_types == (OTHER_RESIDENTIAL,) and (people or 0) < 1
        if unusable or missing:
            raise AssessmentError(
                "missing_people_count", "an other-residential development needs a people count of at least 1"
            )
    return people


def _pond_error(summary: str) -> AssessmentError:
    return AssessmentError("invalid_survey_ponds", summary)


def _survey_ponds(collection: object, flags: set[str]) -> tuple[SurveyPondInput, ...] | None:
    """The survey ponds, or None without `gcnSurveyPonds` (no-survey route).

    Every problem, including the CRS and coordinate checks shared with the boundary, is reported
    as invalid_survey_ponds, so the support mailbox sees which part of the quote is wrong.
    """
    if collection is None:
        return None
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list) or collection.get("type") != "FeatureCollection":
        raise _pond_error("gcnSurveyPonds is not a GeoJSON FeatureCollection")
    if len(features) > MAX_SURVEY_PONDS:
        raise _pond_error("gcnSurveyPonds has more than 20,000 features")
    try:
        crs = geometry.crs_from_geojson(collection.get("crs"), default=geometry.BNG)
    except AssessmentError:
        raise _pond_error("gcnSurveyPonds has an unsupported CRS") from None

    # Attributes first: it also rejects features that are not objects.
    attributes = [_pond_attributes(feature, flags) for feature in features]
    shapes = np.array([_pond_shape(feature) for feature in features], dtype=object)
    if crs == geometry.LONLAT and len(shapes):
        shapes, outside = geometry.lonlat_to_bng(shapes)
        if outside.any():
            raise _pond_error("a survey pond lies outside the OSTN15 coverage")
    ponds = []
    for shape, (pans, tmp_imp, pond_id) in zip(shapes, attributes):
        if not shape.is_valid:
            shape = _repair(shape)
            flags.add("SURVEY_POND_REPAIRED")
        try:
            geometry.check_polygonal(shape, crs)
        except AssessmentError as error:
            raise _pond_error(f"a survey pond geometry failed: {error.summary}") from None
        ponds.append(SurveyPondInput(shape, pans, tmp_imp, pond_id))
    return tuple(ponds)


def _pond_attributes(feature: object, flags: set[str]) -> tuple[str, str, str | None]:
    properties = feature.get("properties") if isinstance(feature, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    pans = properties.get("PANS")
    if pans not in PANS_VALUES:
        raise _pond_error("a survey pond's PANS is not P, A or NS")
    tmp_imp = properties.get("TmpImp")
    if tmp_imp is None:  # absent or null
        tmp_imp = "F"
        flags.add("TMPIMP_DEFAULTED")
    elif tmp_imp not in TMPIMP_VALUES:
        raise _pond_error("a survey pond's TmpImp is not T or F")
    pond_id = properties.get("pondId")
    if pond_id is not None and not isinstance(pond_id, str):
        raise _pond_error("a survey pond's pondId is not a string")
    return pans, tmp_imp, pond_id


def _pond_shape(feature: dict) -> MultiPolygon:
    pond_geometry = feature.get("geometry")
    if pond_geometry is None:
        raise _pond_error("a survey pond has no geometry")
    try:
        return geometry.polygonal_from_geojson(pond_geometry)
    except AssessmentError as error:
        raise _pond_error(f"a survey pond geometry failed: {error.summary}") from None


def _repair(shape: BaseGeometry) -> MultiPolygon:
    """make_valid, keeping the polygonal part (a collapsed pond becomes empty and fails later)."""
    repaired = shapely.make_valid(shape)
    parts = shapely.get_parts(repaired)
    polygons = [p for part in parts for p in shapely.get_parts(part) if p.geom_type == "Polygon"]
    return MultiPolygon(polygons)
