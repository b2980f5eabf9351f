"""Normalisation on load (reference-data.md §6): CRS, 2-D MultiPolygons, coercion, attributes.

Pure functions on arrays of one chunk; the loader feeds them and writes what they return.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pyproj
import shapely
from shapely.geometry import MultiPolygon

from nrf_pipeline.geometry import InputFileError, file_crs, geometries_to_bng
from nrf_pipeline.reference.errors import ReferenceDataError
from nrf_pipeline.reference.layers import Kind

_POLYGONAL = {"Polygon", "MultiPolygon"}
_POLYGON, _MULTIPOLYGON = 3, 6  # shapely type ids


@dataclass
class LoadStats:
    """What normalisation changed, reported by the geometry_valid and coercion checks."""

    rows: int = 0
    repaired: int = 0
    dropped_empty: int = 0
    non_numeric: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"rows": self.rows, "repaired": self.repaired, "dropped_empty": self.dropped_empty,
                "non_numeric": self.non_numeric}


def source_crs(declared: str | None, uri: str, assume_crs: str | None) -> str:
    """The CRS to read a source in (a `nrf_pipeline.geometry.file_crs` result).

    A source without a CRS is refused unless the load names one; a source that has one keeps it.
    """
    if declared is None:
        if not assume_crs:
            raise ReferenceDataError(uri, "crs", "the source declares no CRS (set assume_crs, e.g. EPSG:27700, if known)")
        declared = assume_crs
    try:
        return file_crs(pyproj.CRS.from_user_input(declared), uri)
    except pyproj.exceptions.CRSError:
        raise ReferenceDataError(uri, "crs", f"unknown CRS {declared!r}") from None
    except InputFileError as exc:
        raise ReferenceDataError(uri, "crs", str(exc).removeprefix(f"{uri}: ")) from None


def check_geometry_type(declared: str, uri: str) -> None:
    # "Unknown" (mixed) layers are allowed here and checked feature by feature.
    base = declared.split(" ")[0]
    if base not in _POLYGONAL and base != "Unknown":
        raise ReferenceDataError(uri, "geometry_type", f"the layer holds {declared}, not polygons")


def normalise_geometries(geometries: np.ndarray, crs: str, uri: str, row_ids: np.ndarray,
                         stats: LoadStats) -> np.ndarray:
    """2-D MultiPolygons in EPSG:27700; None where a feature is dropped (null or empty after repair).

    Lon/lat goes through OSTN15 (`geometries_to_bng`); conversion comes before validation, as for
    every other input (environment.md §8).
    """
    geometries, outside = geometries_to_bng(geometries, crs)
    if outside.any():
        raise ReferenceDataError(uri, "crs", f"{int(outside.sum())} features lie outside the OSTN15 coverage "
                                             f"(first: feature {int(row_ids[outside][0])}); is the declared CRS right?")
    types = shapely.get_type_id(geometries)
    wrong = (types >= 0) & (types != _POLYGON) & (types != _MULTIPOLYGON)
    if wrong.any():
        first = int(np.flatnonzero(wrong)[0])
        raise ReferenceDataError(uri, "geometry_type",
                                 f"feature {int(row_ids[first])} is a {geometries[first].geom_type}, not a polygon")
    invalid = np.flatnonzero((types >= 0) & ~shapely.is_valid(geometries))
    for i in invalid:
        geometries[i] = _polygonal_parts(shapely.make_valid(geometries[i]))
    stats.repaired += len(invalid)
    polygons = shapely.get_type_id(geometries) == _POLYGON
    if polygons.any():
        geometries[polygons] = shapely.multipolygons(geometries[polygons], indices=np.arange(int(polygons.sum())))
    dropped = shapely.is_missing(geometries) | shapely.is_empty(geometries)
    geometries[dropped] = None
    stats.dropped_empty += int(dropped.sum())
    return geometries


def _polygonal_parts(geometry) -> MultiPolygon:
    """Only the polygons of a make-valid result (it may add lines or points where rings touched)."""
    parts = [part for part in shapely.get_parts(geometry) if part.geom_type in _POLYGONAL]
    polygons = [p for part in parts for p in (part.geoms if part.geom_type == "MultiPolygon" else [part])]
    return MultiPolygon(polygons)


def coerce(values: np.ndarray, kind: Kind) -> tuple[list, int]:
    """Typed column values (None for missing) and how many present values were not numbers."""
    out, bad = [], 0
    convert = {"text": str, "int": _to_int, "float": _to_float}[kind]
    for value in values.tolist():
        if _missing(value):
            out.append(None)
            continue
        converted = convert(value)
        bad += converted is None
        out.append(converted)
    return out, bad


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _to_float(value) -> float | None:
    # float() accepts "12.79" as well as "nan"/"inf": those are kept, for coefficient_range to refuse.
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _to_int(value) -> int | None:
    # int() strips surrounding whitespace, which removes the leading tab of some lookup codes.
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def attributes_json(fields: dict[str, np.ndarray], rows: np.ndarray) -> list[str]:
    """Every source field of the rows at index `rows` as a JSON object: NaN/inf → null, dates ISO."""
    if not fields:
        return ["{}"] * len(rows)
    names = list(fields)
    columns = [_json_values(fields[name][rows]) for name in names]
    return [json.dumps(dict(zip(names, row)), ensure_ascii=False, default=_json_default, allow_nan=False)
            for row in zip(*columns)]


def _json_values(values: np.ndarray) -> list:
    if values.dtype.kind == "M":
        return [None if np.isnat(v) else np.datetime_as_string(v) for v in values]
    if values.dtype.kind == "f":
        return [v if math.isfinite(v) else None for v in values.tolist()]
    return [None if isinstance(v, float) and not math.isfinite(v) else v for v in values.tolist()]


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
