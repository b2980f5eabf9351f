"""Input geometry: CRS handling, conversion to EPSG:27700 and validation (contracts.md §2.3).

Every geometry leaves this module 2-D and in EPSG:27700. Longitude/latitude is converted with
OSTN15 accuracy through convertbng (environment.md §8), never through pyproj, whose fallback
without the OSTN15 grid is 2–4 m out in England.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np
import shapely
from convertbng.cutil import convert_bng
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from nrf_pipeline.errors import AssessmentError

if TYPE_CHECKING:
    import pyproj

BNG = "EPSG:27700"
# Longitude first (GeoJSON order), whether the input said EPSG:4326 or OGC CRS84.
LONLAT = "OGC:CRS84"

# Case-insensitive forms of contracts.md §2.3: EPSG:N, urn:ogc:def:crs:EPSG::N and
# urn:ogc:def:crs:EPSG:<version>:N; CRS84 likewise with or without the OGC prefixes.
_EPSG_NAME = re.compile(r"(?:epsg|urn:ogc:def:crs:epsg:[0-9.]*):([0-9]+)", re.I | re.A)
_CRS84_NAME = re.compile(r"(?:(?:urn:ogc:def:crs:ogc:[0-9.]*|ogc):)?crs84", re.I | re.A)

BNG_MAX_EASTING = 700_000
BNG_MAX_NORTHING = 1_300_000


class InputFileError(ValueError):
    """A site or pond file that cannot be used as a whole; the message names the file."""


def crs_from_geojson(crs_member: object, default: str) -> str:
    """BNG or LONLAT for a GeoJSON `crs` member; `default` when it is absent (or null).

    The default is BNG for geometries from nrf-backend and LONLAT for GeoJSON files (RFC 7946).
    """
    if crs_member is None:
        return default
    name = None
    if isinstance(crs_member, dict) and crs_member.get("type") == "name":
        properties = crs_member.get("properties")
        if isinstance(properties, dict):
            name = properties.get("name")
    if isinstance(name, str):
        epsg = _EPSG_NAME.fullmatch(name)
        if epsg and int(epsg.group(1)) == 27700:
            return BNG
        if (epsg and int(epsg.group(1)) == 4326) or _CRS84_NAME.fullmatch(name):
            return LONLAT
    raise AssessmentError("unsupported_crs", "the CRS is neither EPSG:27700 nor EPSG:4326/CRS84")


def polygonal_from_geojson(geometry: object) -> MultiPolygon:
    """Build a 2-D MultiPolygon from a GeoJSON Polygon/MultiPolygon, coordinates untouched.

    Checks the type and the raw structure (empty, rings of fewer than 4 positions, unclosed
    rings) before shapely sees the coordinates, because shapely closes rings silently.
    """
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise AssessmentError("unsupported_geometry_type", "the geometry is not a Polygon or MultiPolygon")
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons:
        raise AssessmentError("invalid_geometry", "the geometry is empty")
    return MultiPolygon([_polygon(rings) for rings in polygons])


def _polygon(rings: object) -> Polygon:
    if not isinstance(rings, list) or not rings:
        raise AssessmentError("invalid_geometry", "the geometry is empty")
    shell, *holes = [_ring(ring) for ring in rings]
    return Polygon(shell, holes)


def _ring(ring: object) -> list[tuple[float, float]]:
    if not isinstance(ring, list) or len(ring) < 4:
        raise AssessmentError("invalid_geometry", "a ring has fewer than 4 positions")
    positions = [_position(position) for position in ring]
    if positions[0] != positions[-1]:
        raise AssessmentError("invalid_geometry", "a ring is not closed")
    return positions


def _position(position: object) -> tuple[float, float]:
    # Z (and any further ordinate) is dropped here.
    if (
        isinstance(position, list)
        and len(position) >= 2
        and all(_is_finite_number(value) for value in position[:2])
    ):
        return float(position[0]), float(position[1])
    raise AssessmentError("invalid_geometry", "a position is not a pair of numbers")


def _is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def lonlat_to_bng(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert longitude/latitude geometries to 2-D EPSG:27700 with OSTN15 (convertbng).

    One convertbng call for every vertex of every geometry. Returns the converted geometries and
    a mask of those with a vertex outside the OSTN15 coverage; those come back as None because
    their rings cannot be rebuilt from NaN.
    """
    geometries = np.array(geometries, dtype=object)
    coordinates, index = shapely.get_coordinates(geometries, return_index=True)
    eastings, northings = convert_bng(
        np.ascontiguousarray(coordinates[:, 0]), np.ascontiguousarray(coordinates[:, 1])
    )
    converted = np.column_stack([eastings, northings])
    nan_rows = np.isnan(converted).any(axis=1)
    outside = np.zeros(len(geometries), dtype=bool)
    outside[index[nan_rows]] = True
    # Any finite placeholder keeps the rings closed; those geometries are replaced by None.
    converted[nan_rows] = 0.0
    shapely.set_coordinates(geometries, converted)  # in place; (N, 2) also drops Z
    geometries[outside] = None
    return geometries, outside


def check_polygonal(shape: BaseGeometry, crs: str) -> None:
    """The contracts.md §2.3 checks that follow the structure, on a geometry already in BNG.

    `crs` is the CRS the coordinates arrived in. For longitude/latitude, environment.md §8 says
    convert first, then validate, so coverage (the caller's `lonlat_to_bng` mask) is checked
    before validity there; the degrees and range checks apply to BNG input only.
    """
    if not shape.is_valid:
        raise AssessmentError("invalid_geometry", "the geometry is not valid (for example self-intersecting)")
    if shape.area == 0:
        raise AssessmentError("invalid_geometry", "the geometry has zero area")
    if crs != BNG:
        return
    xmin, ymin, xmax, ymax = shape.bounds
    if -180 <= xmin and xmax <= 180 and -90 <= ymin and ymax <= 90:
        raise AssessmentError(
            "coordinates_look_like_degrees", "EPSG:27700 coordinates all within ±180/±90 look like degrees"
        )
    if xmin < 0 or ymin < 0 or xmax > BNG_MAX_EASTING or ymax > BNG_MAX_NORTHING:
        raise AssessmentError("coordinates_out_of_range", "coordinates lie outside the EPSG:27700 grid")


def to_bng(shape: MultiPolygon, crs: str) -> MultiPolygon:
    """A single raw GeoJSON shape in BNG or LONLAT, converted to BNG (no validity check)."""
    if crs == BNG:
        return shape
    (converted,), (outside,) = lonlat_to_bng([shape])
    if outside:
        raise AssessmentError("coordinates_out_of_range", "longitude/latitude outside the OSTN15 coverage")
    return converted


def boundary_from_geojson(geometry: object, default_crs: str = BNG) -> MultiPolygon:
    """A validated MultiPolygon in EPSG:27700 from a GeoJSON geometry with an optional `crs` member.

    Order: missing_boundary, unsupported_crs, then the geometry checks of contracts.md §2.3.
    """
    if geometry is None:
        raise AssessmentError("missing_boundary", "the quote has no boundary geometry")
    crs = crs_from_geojson(geometry.get("crs") if isinstance(geometry, dict) else None, default_crs)
    shape = to_bng(polygonal_from_geojson(geometry), crs)
    check_polygonal(shape, crs)
    return shape


def file_crs(crs: pyproj.CRS | None, source: str) -> str:
    """BNG, LONLAT or another projected CRS (as WKT) for a CRS read from a file.

    Other projected CRSs are converted with pyproj, which is acceptable because no lon/lat step
    of our own is involved; any geographic CRS other than WGS84 is refused, since only WGS84
    (treated as ETRS89) goes through OSTN15.
    """
    if crs is None:
        raise InputFileError(f"{source}: the file has no CRS (for a shapefile, the .prj file is missing)")
    if crs.to_epsg() == 27700:
        return BNG
    if crs.to_epsg() == 4326 or crs.to_authority() == ("OGC", "CRS84"):
        return LONLAT
    if crs.is_geographic:
        raise InputFileError(f"{source}: unsupported geographic CRS {crs.name}; use EPSG:4326 or EPSG:27700")
    return crs.to_wkt()


def geometries_to_bng(geometries: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert file geometries from `crs` (a `file_crs` result) to 2-D EPSG:27700.

    Returns the geometries and the mask of those outside the OSTN15 coverage (see `lonlat_to_bng`).
    """
    geometries = np.array(geometries, dtype=object)
    if crs == LONLAT:
        return lonlat_to_bng(geometries)
    if crs != BNG:
        import pyproj  # only files in other projected CRSs need it

        transformer = pyproj.Transformer.from_crs(crs, BNG, always_xy=True)
        geometries = shapely.transform(
            geometries, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        )
    return shapely.force_2d(geometries), np.zeros(len(geometries), dtype=bool)
