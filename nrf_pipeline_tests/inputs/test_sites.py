"""Site file readers (nutrient-method.md §2.1)."""

import json
import shutil
import zipfile

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from nrf_pipeline.geometry import InputFileError
from nrf_pipeline.sites import Site, SiteError, read_sites
from nrf_pipeline_tests.paths import INPUTS_DIR

NUTRIENTS = INPUTS_DIR / "nutrients"
GENERATED = INPUTS_DIR / "generated"
MANIFEST = GENERATED / "manifest.json"
BNW = NUTRIENTS / "BnW_cleaned_110925" / "BnW_cleaned_110925.shp"
SMALL_SHP_DIR = NUTRIENTS / "BnW_small_under_1_hectare"
SMALL_CONTAINERS = [
    SMALL_SHP_DIR / "BnW_small_under_1_hectare.shp",
    SMALL_SHP_DIR,
    NUTRIENTS / "BnW_small_under_1_hectare_geojson" / "BnW_small_under_1_hectare.geojson",
    NUTRIENTS / "BnW_small_under_1_hectare.zip",
]
BNG_CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}


def square(x, y, size=20.0):
    return [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]


def feature(properties, geometry):
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def poly(coordinates, kind="Polygon"):
    return {"type": kind, "coordinates": coordinates}


def write_geojson(path, features, crs=BNG_CRS):
    collection = {"type": "FeatureCollection", "features": features}
    if crs is not None:
        collection["crs"] = crs
    path.write_text(json.dumps(collection))
    return path


# --- shipped inputs -------------------------------------------------------------------------------


def test_bnw_gives_245_sites_with_recomputed_areas():
    sites, errors = read_sites(BNW)
    assert errors == []
    assert [site.rlb_id for site in sites] == list(range(1, 246))
    by_id = {site.rlb_id: site for site in sites}
    # nutrient-method.md §5.2 and §5.3.
    assert (by_id[1].dwellings, round(by_id[1].geometry.area / 10_000, 2)) == (19, 3.05)
    assert by_id[139].geometry.area == pytest.approx(9885.58, abs=0.005)
    assert by_id[187].geometry.area == pytest.approx(9956.16, abs=0.005)
    # The file's own Shape_Area is wrong by up to 455,892 m²; our areas are the geometry's.
    stored = pyogrio.read_dataframe(BNW, read_geometry=False)["Shape_Area"].to_numpy()
    ours = np.array([site.geometry.area for site in sites])
    assert np.abs(stored - ours).max() == pytest.approx(455_892, abs=1)
    assert all(not site.geometry.has_z for site in sites)
    assert all(site.id is not None and site.source is not None for site in sites)
    assert sum(site.name is None for site in sites) == 65  # blank names stay blank
    assert any("\n" in (site.name or "") for site in sites)  # passed through unchanged


@pytest.mark.parametrize("path", SMALL_CONTAINERS, ids=["shp", "folder", "geojson", "zip"])
def test_bnw_small_containers_give_the_same_site(path):
    (site,), errors = read_sites(path)
    assert errors == []
    assert site.rlb_id == 1 and site.dwellings == 1
    assert round(site.geometry.area, 2) == 259.39
    assert (site.id, site.name, site.dwelling_category, site.source) == (
        "24/00119/F", "Old White Horse Station Road East Rudham", "in-system", "RHK_West Norfolk_System")
    (reference,), _ = read_sites(SMALL_CONTAINERS[0])
    assert site.geometry.equals_exact(reference.geometry, tolerance=0)


def test_a_plain_gdal_open_of_the_shipped_zip_fails():
    # Why the reader picks the member itself (the zip has __MACOSX/ resource forks).
    with pytest.raises(pyogrio.errors.DataSourceError):
        pyogrio.read_dataframe(NUTRIENTS / "BnW_small_under_1_hectare.zip")


def test_generated_sites_take_dwellings_from_the_manifest():
    entries = json.loads(MANIFEST.read_text())
    manifest = {entry["geometry"].rsplit("/", 1)[1]: entry["dwellings"] for entry in entries}
    assert len(manifest) == 10
    for name, dwellings in manifest.items():
        (site,), errors = read_sites(GENERATED / name, manifest=MANIFEST)
        assert errors == [] and site.dwellings == dwellings and site.geometry.area > 0


def test_dwellings_are_required_unless_supplied():
    sites, (error,) = read_sites(GENERATED / "03_medium_mixed.geojson")
    assert sites == []
    assert (error.rlb_id, error.code, error.site_label) == (1, "missing_housing_units", "no id or name")
    assert "RLB_ID 1" in error.message
    (site,), _ = read_sites(GENERATED / "03_medium_mixed.geojson", dwellings=12)
    assert site.dwellings == 12


def test_dwellings_override_replaces_the_files_count():
    (site,), _ = read_sites(SMALL_CONTAINERS[0], dwellings=7)
    assert site.dwellings == 7
    with pytest.raises(ValueError):
        read_sites(SMALL_CONTAINERS[0], dwellings=-1)


def test_manifest_without_an_entry_for_the_file_leaves_the_count_missing(tmp_path):
    other = tmp_path / "manifest.json"
    other.write_text(json.dumps([{"geometry": "x/other.geojson", "dwellings": 3}]))
    _, (error,) = read_sites(GENERATED / "01_tiny_parcel.geojson", manifest=other)
    assert error.code == "missing_housing_units"


def test_lonlat_geojson_files_are_converted_with_ostn15():
    sites, errors = read_sites(NUTRIENTS / "intersects_bure_broads.geojson", dwellings=1)
    assert errors == []
    assert round(sites[0].geometry.area / 10_000, 2) == 1.31
    assert sites[0].name == "Test site inside Bure Broads and Marshes EDP"
    (london,), _ = read_sites(NUTRIENTS / "no_edp_intersection.geojson", dwellings=1)
    assert round(london.geometry.area / 10_000, 2) == 1.24
    assert 529_000 < london.geometry.centroid.x < 531_000 and 179_000 < london.geometry.centroid.y < 181_000


# --- per-site errors ------------------------------------------------------------------------------


def test_per_site_errors_name_the_site_and_keep_the_others(tmp_path):
    bow_tie = {"type": "Polygon", "coordinates": [[[600000, 300000], [600020, 300020], [600020, 300000],
                                                   [600000, 300020], [600000, 300000]]]}
    path = write_geojson(tmp_path / "batch.geojson", [
        feature({"id": "A", "Name": "good", "Dwellings": 3}, poly(square(600000, 300000))),
        feature({"id": "B", "Dwellings": 3}, None),
        feature({"id": "C", "Dwellings": 3}, {"type": "Polygon", "coordinates": []}),
        feature({"Name": "a point", "Dwellings": 3}, {"type": "Point", "coordinates": [600000, 300000]}),
        feature({"id": "E", "Dwellings": 3}, bow_tie),
        feature({"id": "F", "Dwellings": -2}, {"type": "Polygon", "coordinates": square(600100, 300000)}),
        feature({"id": "G", "Dwellings": 2.5}, {"type": "Polygon", "coordinates": square(600200, 300000)}),
        feature({"id": "H", "Dwellings": None}, {"type": "Polygon", "coordinates": square(600300, 300000)}),
        feature({"id": "I", "Dwellings": 4}, {"type": "Polygon", "coordinates": square(1, 52, 0.001)}),
        feature({"id": "J", "Dwellings": 4}, {"type": "Polygon", "coordinates": square(800000, 300000)}),
        feature({"id": "K", "Dwellings": 0}, poly([square(600400, 300000)], "MultiPolygon")),
        feature({"id": "L"}, None),  # two problems, both reported
    ])
    sites, errors = read_sites(path)
    assert [(s.rlb_id, s.id, s.dwellings) for s in sites] == [(1, "A", 3), (11, "K", 0)]
    assert sites[0].name == "good" and sites[0].geometry.area == pytest.approx(400.0)
    assert [(e.rlb_id, e.site_label, e.code) for e in errors] == [
        (2, "id 'B'", "missing_boundary"),
        (3, "id 'C'", "invalid_geometry"),
        (4, "name 'a point'", "unsupported_geometry_type"),
        (5, "id 'E'", "invalid_geometry"),
        (6, "id 'F'", "invalid_housing_units"),
        (7, "id 'G'", "invalid_housing_units"),
        (8, "id 'H'", "missing_housing_units"),
        (9, "id 'I'", "coordinates_look_like_degrees"),
        (10, "id 'J'", "coordinates_out_of_range"),
        (12, "id 'L'", "missing_boundary"),
        (12, "id 'L'", "missing_housing_units"),
    ]
    assert all(isinstance(e, SiteError) and f"RLB_ID {e.rlb_id} ({e.site_label})" in e.message for e in errors)


def test_lonlat_site_outside_ostn15_is_a_site_error(tmp_path):
    path = write_geojson(tmp_path / "lonlat.geojson", [
        feature({"id": "far", "Dwellings": 1}, {"type": "Polygon", "coordinates": square(-30, 10, 0.01)}),
        feature({"id": "bure", "Dwellings": 1}, poly(square(1.264, 52.7879, 0.001))),
    ], crs=None)
    sites, errors = read_sites(path)
    assert [(e.rlb_id, e.code) for e in errors] == [(1, "coordinates_out_of_range")]
    assert [(s.rlb_id, s.id) for s in sites] == [(2, "bure")] and 600_000 < sites[0].geometry.bounds[0] < 700_000


def test_legacy_names_do_not_override_new_ones_and_id_is_text(tmp_path):
    path = write_geojson(tmp_path / "names.geojson", [
        feature({"id": 42, "name": "new", "Name": "legacy", "dwellings": 2, "Dwel_Cat": "flat"},
                poly(square(600000, 300000))),
    ])
    (site,), _ = read_sites(path)
    assert (site.id, site.name, site.dwellings, site.dwelling_category, site.source) == ("42", "new", 2, "flat", None)


# --- whole-file errors and CRS rules --------------------------------------------------------------


def test_shapefile_without_crs_is_an_error_naming_the_file(tmp_path):
    for suffix in (".shp", ".shx", ".dbf"):
        shutil.copy(SMALL_SHP_DIR / f"BnW_small_under_1_hectare{suffix}", tmp_path / f"noprj{suffix}")
    with pytest.raises(InputFileError, match="noprj.shp"):
        read_sites(tmp_path / "noprj.shp")


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(InputFileError, match="empty.geojson: the file contains no sites"):
        read_sites(write_geojson(tmp_path / "empty.geojson", []))


def test_geojson_file_with_an_unknown_crs_member_is_an_error(tmp_path):
    # GDAL alone would read this file as EPSG:4326.
    odd_crs = {"type": "name", "properties": {"name": "foo:bar"}}
    path = write_geojson(tmp_path / "odd.geojson", [feature({"Dwellings": 1}, poly(square(600000, 300000)))], odd_crs)
    with pytest.raises(InputFileError, match="odd.geojson"):
        read_sites(path)


def test_shapefiles_in_4326_and_other_crs(tmp_path):
    (bure,), _ = read_sites(NUTRIENTS / "intersects_bure_broads.geojson", dwellings=1)
    frame = gpd.read_file(NUTRIENTS / "intersects_bure_broads.geojson")
    frame.to_file(tmp_path / "bure.shp")
    (from_shp,), _ = read_sites(tmp_path / "bure.shp", dwellings=1)
    # The shapefile writer reverses the ring; the vertices are the same to the bit.
    assert shapely.normalize(from_shp.geometry).equals_exact(shapely.normalize(bure.geometry), tolerance=0)

    # A projected CRS goes through pyproj: metres from OSTN15, not bit-identical.
    frame.to_crs("EPSG:3857").to_file(tmp_path / "bure_3857.shp")
    (mercator,), _ = read_sites(tmp_path / "bure_3857.shp", dwellings=1)
    assert shapely.hausdorff_distance(mercator.geometry, bure.geometry) < 5

    frame.set_crs("EPSG:4258", allow_override=True).to_file(tmp_path / "etrs89.shp")
    with pytest.raises(InputFileError, match="etrs89.shp"):
        read_sites(tmp_path / "etrs89.shp", dwellings=1)


def zip_of(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def small_shapefile_members(prefix="site/", stem="site", parts=(".shp", ".shx", ".dbf", ".prj")):
    return {f"{prefix}{stem}{suffix}": (SMALL_SHP_DIR / f"BnW_small_under_1_hectare{suffix}").read_bytes()
            for suffix in parts}


def test_zip_rules(tmp_path):
    geojson = (SMALL_CONTAINERS[2]).read_bytes()
    (site,), _ = read_sites(zip_of(tmp_path / "g.zip", {"a/site.geojson": geojson, "._site.geojson": b"junk",
                                                         "__MACOSX/a/._site.geojson": b"junk"}))
    assert round(site.geometry.area, 2) == 259.39
    (site,), _ = read_sites(zip_of(tmp_path / "s.zip", small_shapefile_members()))
    assert site.dwellings == 1

    two = {**small_shapefile_members(), **small_shapefile_members(stem="other")}
    with pytest.raises(InputFileError, match="two.zip: expected exactly one"):
        read_sites(zip_of(tmp_path / "two.zip", two))
    with pytest.raises(InputFileError, match="mixed.zip: expected exactly one"):
        read_sites(zip_of(tmp_path / "mixed.zip", {**small_shapefile_members(), "x.geojson": geojson}))
    with pytest.raises(InputFileError, match="nodbf.zip: the shapefile lacks its .dbf part"):
        read_sites(zip_of(tmp_path / "nodbf.zip", small_shapefile_members(parts=(".shp", ".shx", ".prj"))))
    with pytest.raises(InputFileError, match="forks.zip: expected exactly one .shp or .geojson, found 0"):
        read_sites(zip_of(tmp_path / "forks.zip", {"__MACOSX/site.shp": b"x", "._site.geojson": b"x"}))
    with pytest.raises(InputFileError, match="noprj.zip"):
        read_sites(zip_of(tmp_path / "noprj.zip", small_shapefile_members(parts=(".shp", ".shx", ".dbf"))))


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("id\n1\n")
    with pytest.raises(InputFileError, match="sites.csv"):
        read_sites(path)


def test_site_type_is_unchanged():
    assert Site.__dataclass_fields__.keys() == {
        "rlb_id", "geometry", "dwellings", "id", "name", "dwelling_category", "source", "people", "flags"}
