"""Quote parsing and boundary validation (contracts.md §2.2, §2.3)."""

import copy

import pytest
import shapely
from shapely.geometry import MultiPolygon

from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.quote import QuoteInput, SurveyPondInput, parse_quote
from nrf_pipeline.sites import Site

REF = "NRL-123456"
# 100 m x 50 m in Norfolk, EPSG:27700.
RECT = [[612800.0, 279700.0], [612900.0, 279700.0], [612900.0, 279750.0], [612800.0, 279750.0], [612800.0, 279700.0]]
BURE_LONLAT = [[1.2669, 52.7879], [1.2669, 52.7885], [1.2640, 52.7885], [1.2640, 52.7879], [1.2669, 52.7879]]


def polygon(*rings, crs=None):
    geometry = {"type": "Polygon", "coordinates": [list(ring) for ring in rings]}
    if crs is not None:
        geometry["crs"] = {"type": "name", "properties": {"name": crs}}
    return geometry


def quote(boundary=None, **fields):
    body = {
        "reference": REF,
        "boundaryGeojson": {"boundaryGeometryOriginal": boundary or polygon(RECT), "intersectingEdps": []},
        "housingUnits": 5,
    }
    body.update(fields)
    return body


def error_code(body, reference=REF) -> str:
    with pytest.raises(AssessmentError) as caught:
        parse_quote(reference, body)
    return caught.value.code


def pond(coordinates=None, **properties):
    props = {"PANS": "P", "TmpImp": "F", "pondId": "S-001"}
    props.update(properties)
    if coordinates is None:
        coordinates = [[[612850.0, 279720.0], [612870.0, 279720.0], [612870.0, 279735.0], [612850.0, 279720.0]]]
    geometry = {"type": "Polygon", "coordinates": coordinates}
    return {"type": "Feature", "geometry": geometry, "properties": {k: v for k, v in props.items() if v != "-"}}


def ponds(*features, crs="urn:ogc:def:crs:EPSG::27700"):
    collection = {"type": "FeatureCollection", "features": list(features)}
    if crs is not None:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    return collection


# --- the happy path and the QuoteInput ------------------------------------------------------------


def test_minimal_housing_quote():
    parsed = parse_quote(REF, quote(email="applicant@example.com"))
    assert isinstance(parsed.boundary, MultiPolygon)
    assert parsed.boundary.area == pytest.approx(5000.0)
    assert (parsed.dwellings, parsed.people, parsed.development_types, parsed.dwelling_category) == (
        5, None, ("housing",), "housing")
    assert parsed.crs_as_received is None
    assert parsed.survey_ponds is None and parsed.flags == ()
    assert parsed.email == "applicant@example.com"


def test_email_is_kept_out_of_repr_and_to_dict():
    parsed = parse_quote(REF, quote(email="applicant@example.com"))
    assert "applicant@example.com" not in repr(parsed)
    stored = parsed.to_dict()
    assert "email" not in stored and "applicant@example.com" not in str(stored)
    assert stored["reference"] == REF and stored["dwellings"] == 5 and stored["boundary"]["type"] == "MultiPolygon"


def test_to_site():
    site = parse_quote(REF, quote(developmentTypes=["other-residential", "housing"], peopleCount=40)).to_site()
    assert site == Site(rlb_id=1, geometry=site.geometry, dwellings=5, id=REF, name=REF,
                        dwelling_category="other-residential", source="nrf-backend", people=40, flags=())
    assert site.geometry.area == pytest.approx(5000.0)


def test_z_values_are_dropped_and_holes_and_multipolygons_accepted():
    hole = [[612810.0, 279710.0], [612820.0, 279710.0], [612820.0, 279720.0], [612810.0, 279710.0]]
    with_z = [[x, y, 12.5] for x, y in RECT]
    parsed = parse_quote(REF, quote(polygon(with_z, hole)))
    assert not parsed.boundary.has_z
    assert parsed.boundary.area == pytest.approx(5000.0 - 50.0)

    other = [[x + 1000, y] for x, y in RECT]
    multi = {"type": "MultiPolygon", "coordinates": [[RECT], [other]]}
    assert parse_quote(REF, quote(multi)).boundary.area == pytest.approx(10_000.0)


# --- CRS forms ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["EPSG:27700", "urn:ogc:def:crs:EPSG::27700", "urn:ogc:def:crs:EPSG:8.9:27700"])
def test_bng_crs_forms(name):
    parsed = parse_quote(REF, quote(polygon(RECT, crs=name)))
    assert parsed.crs_as_received == name
    assert shapely.get_coordinates(parsed.boundary)[0].tolist() == RECT[0]


@pytest.mark.parametrize("name", ["OGC:CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84", "CRS84", "EPSG:4326",
                                  "urn:ogc:def:crs:EPSG::4326"])
def test_lonlat_crs_forms_are_longitude_first_and_converted_with_ostn15(name):
    parsed = parse_quote(REF, quote(polygon(BURE_LONLAT, crs=name)))
    assert shapely.get_coordinates(parsed.boundary)[0] == pytest.approx([620386.168, 326147.522], abs=1e-6)
    assert parsed.boundary.area == pytest.approx(13069.03, abs=0.01)


@pytest.mark.parametrize("name", ["EPSG:3857", "EPSG:4258", "urn:ogc:def:crs:OGC:1.3:CRS83", "27700"])
def test_unsupported_crs(name):
    assert error_code(quote(polygon(RECT, crs=name))) == "unsupported_crs"


# --- boundary checks in order ---------------------------------------------------------------------


def test_missing_boundary():
    assert error_code({"reference": REF, "housingUnits": 5}) == "missing_boundary"
    assert error_code({"reference": REF, "housingUnits": 5, "boundaryGeojson": {}}) == "missing_boundary"
    assert error_code({"reference": REF, "housingUnits": 5, "boundaryGeojson": None}) == "missing_boundary"
    body = quote()
    body["boundaryGeojson"]["boundaryGeometryOriginal"] = None
    assert error_code(body) == "missing_boundary"


@pytest.mark.parametrize(
    "geometry",
    [{"type": "Point", "coordinates": [612800.0, 279700.0]},
     {"type": "LineString", "coordinates": RECT},
     {"type": "GeometryCollection", "geometries": [polygon(RECT)]},
     {"type": "Feature", "geometry": polygon(RECT)},
     "POLYGON ((0 0, 1 0, 1 1, 0 0))"],
)
def test_unsupported_geometry_type(geometry):
    assert error_code(quote(geometry)) == "unsupported_geometry_type"


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Polygon", "coordinates": []},
        {"type": "Polygon", "coordinates": [[]]},
        {"type": "MultiPolygon", "coordinates": []},
        {"type": "MultiPolygon", "coordinates": [[]]},
        {"type": "Polygon"},
        polygon(RECT[:2] + RECT[:1]),  # 3 positions
        polygon(RECT[:4]),  # 4 positions, not closed (shapely would close it silently)
        polygon([[612800, 279700], [612900, 279750], [612900, 279700], [612800, 279750], [612800, 279700]]),  # bow tie
        polygon([[612800, 279700], [612900, 279700], [612950, 279700], [612800, 279700]]),  # zero area
        polygon([[612800, 279700], [612800, 279700], [612800, 279700], [612800, 279700]]),
        polygon([[612800, "279700"], *RECT[1:4], [612800, "279700"]]),
        polygon([[612800], *RECT[1:4], [612800]]),
        polygon([[612800, True], *RECT[1:4], [612800, True]]),
    ],
)
def test_invalid_geometry(geometry):
    assert error_code(quote(geometry)) == "invalid_geometry"


def test_invalid_geometry_wins_over_degrees():
    bow_tie = polygon([[1, 52], [2, 53], [2, 52], [1, 53], [1, 52]])
    assert error_code(quote(bow_tie)) == "invalid_geometry"


@pytest.mark.parametrize("crs", [None, "EPSG:27700"])
def test_coordinates_look_like_degrees(crs):
    assert error_code(quote(polygon(BURE_LONLAT, crs=crs))) == "coordinates_look_like_degrees"


def test_bng_beyond_the_degree_box_is_not_degrees():
    small = [[10, 100], [20, 100], [20, 110], [10, 100]]
    assert parse_quote(REF, quote(polygon(small))).boundary.area == pytest.approx(50.0)


@pytest.mark.parametrize(
    "geometry",
    [
        polygon([[x + 100_000, y] for x, y in RECT]),  # easting above 700,000
        polygon([[x, y + 1_100_000] for x, y in RECT]),  # northing above 1,300,000
        polygon([[x - 612_850, y] for x, y in RECT]),  # negative easting
        polygon([[-30, 10], [-29, 10], [-29, 11], [-30, 10]], crs="EPSG:4326"),  # outside OSTN15
        polygon([[1.2669, 52.7879], [1.2669, 52.7885], [-30, 52.7885], [1.2669, 52.7879]], crs="OGC:CRS84"),
    ],
)
def test_coordinates_out_of_range(geometry):
    assert error_code(quote(geometry)) == "coordinates_out_of_range"


def test_latitude_first_lonlat_is_not_silently_accepted():
    swapped = [[lat, lon] for lon, lat in BURE_LONLAT]
    assert error_code(quote(polygon(swapped, crs="EPSG:4326"))) == "coordinates_out_of_range"


# --- reference, development types, counts --------------------------------------------------------


def test_reference_mismatch():
    assert error_code(quote(), reference="NRL-654321") == "quote_reference_mismatch"
    assert error_code({k: v for k, v in quote().items() if k != "reference"}) == "quote_reference_mismatch"
    assert error_code([quote()]) == "quote_reference_mismatch"


def test_development_types():
    assert parse_quote(REF, quote(developmentTypes=None)).development_types == ("housing",)
    parsed = parse_quote(REF, quote(developmentTypes=["shop", "housing", "housing"]))
    assert parsed.development_types == ("housing",) and parsed.flags == ("UNKNOWN_DEVELOPMENT_TYPE",)
    parsed = parse_quote(REF, quote(developmentTypes=["other-residential"], housingUnits=None, peopleCount=40))
    assert (parsed.dwelling_category, parsed.dwellings, parsed.people) == ("other-residential", 0, 40)
    parsed = parse_quote(REF, quote(developmentTypes=["housing", "other-residential", "housing"], peopleCount=2))
    assert parsed.development_types == ("housing", "other-residential") and parsed.flags == ()
    # No known value left: housing, so no silent zero.
    parsed = parse_quote(REF, quote(developmentTypes=["commercial"]))
    assert parsed.development_types == ("housing",) and parsed.flags == ("UNKNOWN_DEVELOPMENT_TYPE",)
    assert error_code(quote(developmentTypes=["commercial"], housingUnits=None)) == "missing_housing_units"


def test_housing_unit_aliases_and_conflicts():
    assert parse_quote(REF, quote(housingUnits=None, residentialBuildingCount=7)).dwellings == 7
    assert parse_quote(REF, quote(housingUnits=7, residentialBuildingCount=7)).dwellings == 7
    assert parse_quote(REF, quote(housingUnits=999_999)).dwellings == 999_999
    assert error_code(quote(housingUnits=7, residentialBuildingCount=8)) == "conflicting_housing_units"


@pytest.mark.parametrize("value", [-1, 1_000_000, 2.5, 3.0, "5", True, [5]])
@pytest.mark.parametrize("field", ["housingUnits", "residentialBuildingCount"])
def test_invalid_housing_units(field, value):
    body = quote(housingUnits=None)
    body[field] = value
    assert error_code(body) == "invalid_housing_units"


def test_missing_housing_units():
    assert error_code(quote(housingUnits=None)) == "missing_housing_units"
    assert error_code(quote(housingUnits=0)) == "missing_housing_units"
    assert error_code(quote(housingUnits=0, developmentTypes=["housing", "other-residential"],
                            peopleCount=3)) == "missing_housing_units"


@pytest.mark.parametrize("people", [None, 0, -4, "40", 40.0, 1_000_000])
def test_missing_people_count(people):
    body = quote(developmentTypes=["other-residential"], housingUnits=None, peopleCount=people)
    assert error_code(body) == "missing_people_count"


def test_people_count_for_housing_is_passed_through_and_unusable_mixed_count_fails():
    assert parse_quote(REF, quote(peopleCount=12)).people == 12
    assert parse_quote(REF, quote(developmentTypes=["housing", "other-residential"])).people is None
    mixed = quote(developmentTypes=["housing", "other-residential"], peopleCount="many")
    assert error_code(mixed) == "missing_people_count"


# --- survey ponds ---------------------------------------------------------------------------------


def test_valid_survey_ponds_and_defaults():
    parsed = parse_quote(REF, quote(gcnSurveyPonds=ponds(
        pond(), pond(PANS="A", TmpImp="T", pondId="-"), pond(PANS="NS", TmpImp="-", pondId="S-3"))))
    assert [(p.pans, p.tmp_imp, p.pond_id) for p in parsed.survey_ponds] == [
        ("P", "F", "S-001"), ("A", "T", None), ("NS", "F", "S-3")]
    assert all(isinstance(p, SurveyPondInput) and p.geometry.area == pytest.approx(150.0) for p in parsed.survey_ponds)
    assert parsed.flags == ("TMPIMP_DEFAULTED",)
    assert parsed.to_dict()["survey_ponds"][1]["pans"] == "A"


def test_empty_survey_is_valid_and_absent_survey_is_none():
    assert parse_quote(REF, quote(gcnSurveyPonds=ponds())).survey_ponds == ()
    assert parse_quote(REF, quote(gcnSurveyPonds=ponds(crs=None))).survey_ponds == ()
    assert parse_quote(REF, quote(gcnSurveyPonds=None)).survey_ponds is None


def test_invalid_pond_is_repaired_and_flagged():
    bow_tie = [[[612850, 279720], [612870, 279740], [612870, 279720], [612850, 279740], [612850, 279720]]]
    parsed = parse_quote(REF, quote(gcnSurveyPonds=ponds(pond(bow_tie), pond())))
    repaired = parsed.survey_ponds[0].geometry
    assert repaired.is_valid and isinstance(repaired, MultiPolygon) and len(repaired.geoms) == 2
    assert repaired.area == pytest.approx(200.0)
    assert parsed.flags == ("SURVEY_POND_REPAIRED",)


def test_lonlat_ponds_are_converted():
    parsed = parse_quote(REF, quote(gcnSurveyPonds=ponds(pond([BURE_LONLAT]), crs="OGC:CRS84")))
    assert parsed.survey_ponds[0].geometry.area == pytest.approx(13069.03, abs=0.01)


def test_pond_limit():
    too_many = ponds(*[pond()] * 20_001)
    assert error_code(quote(gcnSurveyPonds=too_many)) == "invalid_survey_ponds"


@pytest.mark.parametrize(
    "collection",
    [
        ponds(pond(PANS="X")),
        ponds(pond(PANS="-")),
        ponds(pond(PANS="p")),
        ponds(pond(TmpImp="Y")),
        ponds(pond(pondId=7)),
        ponds({"type": "Feature", "geometry": None, "properties": {"PANS": "P"}}),
        ponds({"type": "Feature", "properties": {"PANS": "P"}}),
        ponds(pond([])),
        ponds({"type": "Feature", "geometry": {"type": "Point", "coordinates": [612850, 279720]},
               "properties": {"PANS": "P"}}),
        ponds(pond([[[612850, 279720], [612870, 279720], [612880, 279720], [612850, 279720]]])),  # collapses
        ponds(pond(), crs="EPSG:3857"),
        ponds(pond([BURE_LONLAT])),  # degrees declared as BNG
        ponds(pond([[[-30, 10], [-29, 10], [-29, 11], [-30, 10]]]), crs="EPSG:4326"),
        {"type": "FeatureCollection"},
        {"type": "Feature", "geometry": None},
        [pond()],
    ],
)
def test_invalid_survey_ponds(collection):
    assert error_code(quote(gcnSurveyPonds=collection)) == "invalid_survey_ponds"


def test_error_summaries_carry_no_input_values():
    body = quote(polygon([[x + 100_000, y] for x, y in RECT]), email="applicant@example.com")
    with pytest.raises(AssessmentError) as caught:
        parse_quote(REF, body)
    assert "712" not in caught.value.summary and "@" not in str(caught.value)


def test_parse_does_not_modify_the_input():
    body = quote(gcnSurveyPonds=ponds(pond()))
    before = copy.deepcopy(body)
    assert isinstance(parse_quote(REF, body), QuoteInput)
    assert body == before


def test_crs_is_checked_before_the_geometry_type():
    point = {"type": "Point", "coordinates": [612800.0, 279700.0],
             "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}
    assert error_code(quote(point)) == "unsupported_crs"


def test_twenty_thousand_ponds_are_accepted():
    parsed = parse_quote(REF, quote(gcnSurveyPonds=ponds(*[pond()] * 20_000)))
    assert len(parsed.survey_ponds) == 20_000
