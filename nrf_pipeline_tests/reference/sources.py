"""Small source files for the reference tests, written into a temporary directory."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
from shapely.geometry import box

from nrf_pipeline.reference.layers import layer_spec

# A 100 m square in Norfolk, in EPSG:27700.
X0, Y0 = 600_000, 300_000


def square(i: int = 0, size: float = 100, dx: float = 0) -> object:
    x = X0 + i * 1000 + dx
    return box(x, Y0, x + size, Y0 + size)


def write_layer(directory: Path, layer: str, rows: list[dict], crs: object = "EPSG:27700",
                name: str | None = None) -> str:
    """A GeoPackage with `rows` (dicts with a `geometry`) as the spec's source layer of `layer`."""
    spec = layer_spec(layer)
    path = directory / f"{name or layer}.gpkg"
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs) if rows else gpd.GeoDataFrame(
        {c.source: [] for c in spec.columns} | {"geometry": []}, geometry="geometry", crs=crs)
    frame.to_file(path, layer=spec.source_layer, driver="GPKG", engine="pyogrio")
    return str(path)


def write_lookup(directory: Path, table: str, columns: list[str], rows: list[tuple], name: str = "lookups") -> str:
    path = directory / f"{name}.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(f'CREATE TABLE "{table}" ({", ".join(f"{c!r}" for c in columns)})')
        conn.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(columns))})', rows)
    return str(path)


WWTW_COLUMNS = ["Subcatchment_name", "WwTW_name", "WwTW_code", "Nitrogen_2025_2030", "Nitrogen_2030_onwards",
                "Phosphorus_2025_2030", "Phosphorus_2030_onwards"]
RATES_COLUMNS = ["NN_Catchment", "Occ_Rate", "Water_Usage_L_Day"]
