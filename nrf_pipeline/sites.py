"""Development sites (RLBs) as the assessment methods receive them."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from shapely.geometry.base import BaseGeometry

from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.geometry import (
    LONLAT,
    InputFileError,
    check_polygonal,
    crs_from_geojson,
    file_crs,
    geometries_to_bng,
)


@dataclass(frozen=True)
class Site:
    """One red line boundary with its attributes, geometry already in EPSG:27700 and 2-D.

    `rlb_id` is the 1-based position in the input batch (nutrient-method.md §2.1).
    """

    rlb_id: int
    geometry: BaseGeometry
    dwellings: int
    id: str | None = None
    name: str | None = None
    dwelling_category: str | None = None
    source: str | None = None
    people: int | None = None
    flags: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class SiteError:
    """A site that cannot be assessed; the other sites of the file are unaffected."""

    rlb_id: int
    site_label: str
    code: str
    message: str


# Legacy shapefile column names (nutrient-method.md §2.1); `id` keeps its name.
LEGACY_RENAMES = {
    "Name": "name",
    "Dwel_Cat": "dwelling_category",
    "Source": "source",
    "Dwellings": "dwellings",
}
SHAPEFILE_PARTS = (".shx", ".dbf")
GEOJSON_SUFFIXES = (".geojson", ".json")


def read_sites(
    path: Path | str, dwellings: int | None = None, manifest: Path | str | None = None
) -> tuple[list[Site], list[SiteError]]:
    """Read the sites of a shapefile, a GeoJSON file, a zip or a folder holding one of those.

    `dwellings`, when given, is every site's dwelling count, replacing the file's. A `manifest`
    (format of inputs/generated/manifest.json) supplies the count of sites that have none, by
    the file name of the entry's `geometry`. Whole-file problems raise `InputFileError`;
    problems of one site become a `SiteError` and the other sites are still returned.
    """
    path = Path(path)
    if dwellings is not None and not _is_count(dwellings):
        raise ValueError("dwellings must be a whole number >= 0")
    frame, crs = read_features(path)
    if frame.empty:
        raise InputFileError(f"{path.name}: the file contains no sites")
    # A legacy name is renamed only when the new name is not already there.
    renames = {old: new for old, new in LEGACY_RENAMES.items() if new not in frame.columns}
    frame = frame.rename(columns=renames)
    fallback = _manifest_dwellings(Path(manifest), path.name) if manifest is not None else None

    raw_geometries = frame.geometry.values
    geometries, outside = geometries_to_bng(raw_geometries, crs)
    records = frame.drop(columns=frame.geometry.name).to_dict("records")
    sites, errors = [], []
    # RLB_ID is the 1-based position in the file, before anything is dropped.
    for rlb_id, (record, raw, shape, out_of_coverage) in enumerate(
        zip(records, raw_geometries, geometries, outside), start=1
    ):
        text = {key: _text(record.get(key)) for key in ("id", "name", "dwelling_category", "source")}
        label = ", ".join(f"{key} {text[key]!r}" for key in ("id", "name") if text[key] is not None)
        label = label or "no id or name"
        problems = _geometry_problems(raw, shape, crs, out_of_coverage)
        try:
            count = dwellings if dwellings is not None else _dwelling_count(record.get("dwellings"), fallback)
        except AssessmentError as error:
            problems.append((error.code, error.summary))
        if problems:
            errors.extend(
                SiteError(rlb_id, label, code, f"site RLB_ID {rlb_id} ({label}): {summary}")
                for code, summary in problems
            )
        else:
            sites.append(Site(rlb_id=rlb_id, geometry=shape, dwellings=count, **text))
    return sites, errors


def read_features(path: str | Path):
    """The features of a shapefile, GeoJSON file, zip or folder, with the CRS to convert them from
    (geometry.BNG or geometry.LONLAT, or another projected CRS). Raises InputFileError."""
    path = Path(path)
    import pyogrio  # file reading only: the assessment pipeline imports this module for `Site`

    dataset, geojson_bytes = _locate(path)
    frame = pyogrio.read_dataframe(dataset)
    if geojson_bytes is None:
        return frame, file_crs(frame.crs, path.name)
    # GDAL reads an unknown GeoJSON `crs` member as EPSG:4326 without a word, so the member
    # is read here with the rules of contracts.md §2.3 (absent: lon/lat, RFC 7946).
    try:
        return frame, crs_from_geojson(json.loads(geojson_bytes).get("crs"), default=LONLAT)
    except AssessmentError:
        raise InputFileError(f"{path.name}: unsupported GeoJSON crs member") from None


def _locate(path: Path) -> tuple[str, bytes | None]:
    """The GDAL dataset to open, and the GeoJSON text when the input is GeoJSON (for its crs)."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [name for name in archive.namelist() if not name.endswith("/")]
            member = _single_input(names, path.name)
            geojson_bytes = archive.read(member) if member.lower().endswith(GEOJSON_SUFFIXES) else None
        return f"/vsizip/{path.resolve()}/{member}", geojson_bytes
    if path.is_dir():
        member = _single_input([entry.name for entry in path.iterdir() if entry.is_file()], path.name)
        path = path / member
    if path.suffix.lower() in GEOJSON_SUFFIXES:
        return str(path), path.read_bytes()
    if path.suffix.lower() == ".shp":
        return str(path), None
    raise InputFileError(f"{path.name}: not a shapefile, GeoJSON file, zip or folder")


def _single_input(names: list[str], source: str) -> str:
    """The one .shp (with its parts) or .geojson among `names`, ignoring macOS resource forks."""
    names = [
        name
        for name in names
        if not name.startswith("__MACOSX/") and not PurePosixPath(name).name.startswith("._")
    ]
    candidates = [name for name in names if name.lower().endswith((".shp", *GEOJSON_SUFFIXES))]
    if len(candidates) != 1:
        raise InputFileError(f"{source}: expected exactly one .shp or .geojson, found {len(candidates)}")
    (member,) = candidates
    if member.lower().endswith(".shp"):
        stem = member[: -len(".shp")].lower()
        missing = [part for part in SHAPEFILE_PARTS if stem + part not in {name.lower() for name in names}]
        if missing:
            raise InputFileError(f"{source}: the shapefile lacks its {', '.join(missing)} part")
    return member


def _geometry_problems(
    raw: BaseGeometry | None, shape: BaseGeometry | None, crs: str, outside: bool
) -> list[tuple[str, str]]:
    """The nutrient path's geometry rules: no repair, so an invalid geometry is an error."""
    if raw is None:
        return [("missing_boundary", "the site has no geometry")]
    if raw.is_empty:
        return [("invalid_geometry", "the geometry is empty")]
    if raw.geom_type not in ("Polygon", "MultiPolygon"):
        return [("unsupported_geometry_type", "the geometry is not a Polygon or MultiPolygon")]
    if outside:
        return [("coordinates_out_of_range", "longitude/latitude outside the OSTN15 coverage")]
    try:
        check_polygonal(shape, crs)
    except AssessmentError as error:
        return [(error.code, error.summary)]
    return []


def _is_count(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0


def _dwelling_count(value: object, fallback: int | None) -> int:
    """The site's dwellings, else the manifest's; raises AssessmentError without a usable count."""
    if _missing(value):
        if fallback is None:
            raise AssessmentError(
                "missing_housing_units", "the site has no dwelling count (give --dwellings or a manifest)"
            )
        return fallback
    # Integer columns with nulls are read as floats, so a whole float is a count.
    if isinstance(value, (float, np.floating)) and value.is_integer():
        value = int(value)
    if not _is_count(value):
        raise AssessmentError("invalid_housing_units", "the dwelling count is not a whole number >= 0")
    return int(value)


def _manifest_dwellings(manifest: Path, file_name: str) -> int | None:
    """The manifest's dwellings for the entry whose `geometry` has this file name, if any."""
    for entry in json.loads(manifest.read_text()):
        if PurePosixPath(entry["geometry"]).name == file_name:
            return entry["dwellings"]
    return None


def _text(value: object) -> str | None:
    """Attributes pass through unchanged (D10); missing values become None, others strings."""
    if _missing(value):
        return None
    return value if isinstance(value, str) else str(value)


def _missing(value: object) -> bool:
    import pandas as pd  # loaded by pyogrio's reader anyway; not at import time

    return bool(pd.isna(value))
