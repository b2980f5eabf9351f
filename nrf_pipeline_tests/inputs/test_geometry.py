"""CRS parsing and OSTN15 conversion (contracts.md §2.3, environment.md §8)."""

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon

from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.geometry import (
    BNG,
    LONLAT,
    InputFileError,
    crs_from_geojson,
    file_crs,
    geometries_to_bng,
    lonlat_to_bng,
)
from nrf_pipeline.sites import read_sites
from nrf_pipeline_tests.paths import INPUTS_DIR

BURE = INPUTS_DIR / "nutrients" / "intersects_bure_broads.geojson"
BURE_LONLAT = [(1.2669, 52.7879), (1.2669, 52.7885), (1.2640, 52.7885), (1.2640, 52.7879), (1.2669, 52.7879)]


def named(name):
    return {"type": "name", "properties": {"name": name}}


@pytest.mark.parametrize(
    "name",
    ["EPSG:27700", "epsg:27700", "urn:ogc:def:crs:EPSG::27700", "urn:ogc:def:crs:EPSG:8.9:27700",
     "URN:OGC:DEF:CRS:EPSG:6.3:27700"],
)
def test_bng_names(name):
    assert crs_from_geojson(named(name), default=LONLAT) == BNG


@pytest.mark.parametrize(
    "name",
    ["EPSG:4326", "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:EPSG:9.8:4326", "OGC:CRS84", "CRS84", "crs84",
     "urn:ogc:def:crs:OGC:1.3:CRS84"],
)
def test_lonlat_names(name):
    assert crs_from_geojson(named(name), default=BNG) == LONLAT


def test_absent_member_takes_the_callers_default():
    assert crs_from_geojson(None, default=BNG) == BNG
    assert crs_from_geojson(None, default=LONLAT) == LONLAT


@pytest.mark.parametrize(
    "member",
    [named("EPSG:3857"), named("EPSG:277000"), named("EPSG:4258"), named("urn:ogc:def:crs:EPSG::27700x"),
     named("foo:bar"), named(27700), {"type": "link", "properties": {"href": "x"}}, {"type": "name"}, {},
     "EPSG:27700"],
)
def test_unsupported_crs(member):
    with pytest.raises(AssessmentError) as caught:
        crs_from_geojson(member, default=BNG)
    assert caught.value.code == "unsupported_crs"


def test_ostn15_differs_from_the_pyproj_helmert_fallback_by_about_3_3_m():
    (converted,), outside = lonlat_to_bng([Polygon(BURE_LONLAT)])
    assert not outside.any()
    ostn15 = shapely.get_coordinates(converted)
    assert ostn15[0] == pytest.approx([620386.168, 326147.522], abs=1e-6)

    helmert = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    x, y = helmert.transform(*np.array(BURE_LONLAT).T)
    shift = np.hypot(ostn15[:, 0] - x, ostn15[:, 1] - y)
    assert shift == pytest.approx(np.full(5, 3.3), abs=0.05)
    assert converted.area / 10_000 == pytest.approx(1.3069, abs=1e-4)
    assert abs(Polygon(zip(x, y)).area - converted.area) == pytest.approx(0.23, abs=0.05)


def test_lonlat_conversion_is_vectorised_drops_z_and_masks_out_of_coverage():
    inside = Polygon([(x, y, 5.0) for x, y in BURE_LONLAT])
    atlantic = Polygon([(-30, 10), (-29, 10), (-29, 11), (-30, 10)])
    converted, outside = lonlat_to_bng([inside, None, atlantic, Polygon()])
    assert outside.tolist() == [False, False, True, False]
    assert not converted[0].has_z and converted[0].area == pytest.approx(13069.03, abs=0.01)
    assert converted[1] is None and converted[2] is None and converted[3].is_empty


def test_file_crs_rules():
    assert file_crs(pyproj.CRS("EPSG:27700"), "f.shp") == BNG
    assert file_crs(pyproj.CRS("EPSG:4326"), "f.shp") == LONLAT
    assert file_crs(pyproj.CRS("OGC:CRS84"), "f.shp") == LONLAT
    assert file_crs(pyproj.CRS("EPSG:3857"), "f.shp") == pyproj.CRS("EPSG:3857").to_wkt()
    with pytest.raises(InputFileError, match="f.shp"):
        file_crs(None, "f.shp")
    with pytest.raises(InputFileError, match="f.shp"):
        file_crs(pyproj.CRS("EPSG:4258"), "f.shp")


def test_projected_file_geometries_go_through_pyproj_and_bng_stays_as_is():
    bng = MultiPolygon([Polygon(
        [(600000, 300000, 1), (600010, 300000, 1), (600010, 300010, 1), (600000, 300000, 1
    )])])
    same, outside = geometries_to_bng([bng], BNG)
    assert not outside.any() and not same[0].has_z and same[0].equals(shapely.force_2d(bng))

    mercator = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:3857", always_xy=True)
    square = shapely.transform(shapely.force_2d(bng), lambda xy: np.column_stack(mercator.transform(*xy.T)))
    back, _ = geometries_to_bng([square], file_crs(pyproj.CRS("EPSG:3857"), "f.shp"))
    assert shapely.get_coordinates(back[0]) == pytest.approx(shapely.get_coordinates(same[0]), abs=1e-3)


def test_geojson_file_without_crs_is_lonlat_and_matches_the_explicit_crs(tmp_path):
    # pyogrio reports EPSG:4326 for this file, which has no crs member (RFC 7946).
    sites, errors = read_sites(BURE, dwellings=1)
    assert errors == []
    explicit = tmp_path / "bure_4326.geojson"
    explicit.write_text(BURE.read_text().replace('"features"', '"crs": {"type": "name", "properties": '
                                                '{"name": "urn:ogc:def:crs:EPSG::4326"}}, "features"', 1))
    (explicit_site,), _ = read_sites(explicit, dwellings=1)
    assert shapely.equals_exact(sites[0].geometry, explicit_site.geometry, tolerance=0)
    assert shapely.get_coordinates(sites[0].geometry)[0] == pytest.approx([620386.168, 326147.522], abs=1e-6)
