"""Loading one layer version (reference-data.md §4.2): allocate, COPY in chunks, mark loaded or failed.

Readers never see a version being loaded: no release refers to it until one is built and activated.
"""

from __future__ import annotations

import io
import json
import logging
import math
from dataclasses import dataclass

import numpy as np
import psycopg2
import shapely
import sqlalchemy as sa

from nrf_pipeline.reference.errors import ReferenceDataError
from nrf_pipeline.reference.layers import LayerSpec, layer_spec
from nrf_pipeline.reference.normalise import (
    LoadStats, attributes_json, check_geometry_type, coerce, normalise_geometries, source_crs,
)
from nrf_pipeline.reference.sources import GeoPackageLayer, Source, SqliteTable, fetch

log = logging.getLogger(__name__)

CHUNK_ROWS = 10_000
# Serialises version allocation, activation and purge across processes (§4.2, §4.3).
ADVISORY_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext('nrf.reference_data'))")
# SQLSTATEs of the table constraints, named as the QC rule they enforce at load time.
CONSTRAINT_RULES = {"23505": "key_unique", "23502": "key_not_null", "23514": "allowed_values"}


@dataclass(frozen=True)
class LoadedVersion:
    """Provenance of a layer version, as recorded in nrf.reference_data_version."""

    layer: str
    version: int
    reused: bool
    source_uri: str
    source_layer: str
    source_sha256: str
    source_bytes: int
    row_count: int
    loaded_at: str
    run_id: str | None


def load_layer(engine: sa.Engine, layer: str, source_uri: str, *, source_layer: str | None = None,
               assume_crs: str | None = None, force: bool = False, run_id: str | None = None,
               endpoint_url: str | None = None) -> LoadedVersion:
    """Load `source_uri` as a new version of `layer`, or reuse the version with the same sha256."""
    spec = layer_spec(layer)
    source_layer = source_layer or spec.source_layer
    with fetch(source_uri, endpoint_url) as source:
        reader, crs, notes = _open(spec, source, source_layer, assume_crs)
        with engine.begin() as conn:
            conn.execute(ADVISORY_LOCK)
            if not force and (existing := _reusable(conn, spec, source, source_layer)):
                log.info("reference %s: source unchanged (sha256), reusing version %s", layer, existing.version)
                return existing
            version = conn.execute(
                sa.text("SELECT coalesce(max(version), 0) + 1 FROM nrf.reference_data_version WHERE layer = :layer"),
                {"layer": layer},
            ).scalar_one()
            conn.execute(sa.text(
                "INSERT INTO nrf.reference_data_version (layer, version, status, source_uri, source_layer, "
                "source_sha256, source_bytes, qc_status, loaded_by_run_id, notes) VALUES (:layer, :version, "
                "'loading', :uri, :source_layer, :sha256, :bytes, 'pending', :run_id, :notes)"
            ), {"layer": layer, "version": version, "uri": source.uri, "source_layer": source_layer,
                "sha256": source.sha256, "bytes": source.bytes, "run_id": run_id,
                "notes": notes})
        log.info("reference %s: loading version %s", layer, version)
        try:
            _copy(engine, spec, version, reader, crs)
        except BaseException as exc:
            _mark_failed(engine, spec, version, exc)
            raise
    _analyze(engine, spec)
    with engine.connect() as conn:
        return _loaded_version(conn, layer, version, reused=False)


def _open(spec: LayerSpec, source: Source, source_layer: str, assume_crs: str | None):
    """Describe and validate the source before any version is allocated: (reader, CRS, notes)."""
    if spec.spatial:
        reader = GeoPackageLayer.open(source, source_layer)
        check_geometry_type(reader.geometry_type, source.uri)
        crs = source_crs(reader.crs, source.uri, assume_crs)
        notes = f"CRS assumed: {assume_crs}" if reader.crs is None else None
    else:
        reader, crs, notes = SqliteTable.open(source, source_layer), None, None
    for name in spec.key_not_null:
        if spec.column(name).source not in reader.fields:
            raise ReferenceDataError(source.uri, "key_not_null", f"the source has no field {spec.column(name).source!r}")
    return reader, crs, notes


def _reusable(conn, spec: LayerSpec, source: Source, source_layer: str) -> LoadedVersion | None:
    # Of several versions from the same file (forced reloads), the active one, else the newest.
    version = conn.execute(sa.text(
        "SELECT v.version FROM nrf.reference_data_version v LEFT JOIN nrf.active_reference_data a "
        "ON a.layer = v.layer AND a.version = v.version WHERE v.layer = :layer AND v.source_sha256 = :sha256 "
        "AND v.source_layer = :source_layer AND v.status = 'loaded' "
        "ORDER BY a.version IS NOT NULL DESC, v.version DESC LIMIT 1"
    ), {"layer": spec.name, "sha256": source.sha256, "source_layer": source_layer}).scalar()
    return None if version is None else _loaded_version(conn, spec.name, version, reused=True)


def _loaded_version(conn, layer: str, version: int, reused: bool) -> LoadedVersion:
    row = conn.execute(sa.text(
        "SELECT source_uri, source_layer, source_sha256, source_bytes, row_count, loaded_at, loaded_by_run_id "
        "FROM nrf.reference_data_version WHERE layer = :layer AND version = :version"
    ), {"layer": layer, "version": version}).one()
    return LoadedVersion(layer, version, reused, row.source_uri, row.source_layer, row.source_sha256,
                         row.source_bytes, row.row_count, row.loaded_at.isoformat(), row.loaded_by_run_id)


def _copy(engine: sa.Engine, spec: LayerSpec, version: int, reader, crs: str | None) -> None:
    """COPY every chunk in one transaction, then mark the version loaded in the same commit."""
    columns = ["version", spec.row_id, *(c.name for c in spec.columns), "attributes"] + (["geom"] if spec.spatial else [])
    copy_sql = f"COPY {spec.table} ({', '.join(columns)}) FROM STDIN"
    stats = LoadStats()
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            for chunk in reader.chunks(CHUNK_ROWS):
                cur.copy_expert(copy_sql, io.StringIO(_copy_text(spec, version, chunk, crs, reader.source.uri, stats)))
            cur.execute(
                "UPDATE nrf.reference_data_version SET status = 'loaded', row_count = %s, loaded_at = now(), "
                "qc_report = %s WHERE layer = %s AND version = %s",
                (stats.rows, json.dumps({"load": stats.as_dict()}), spec.name, version),
            )
        raw.commit()
    except psycopg2.IntegrityError as exc:
        raw.rollback()
        diag = exc.diag
        rule = CONSTRAINT_RULES.get(exc.pgcode, "constraint")
        raise ReferenceDataError(reader.source.uri, rule, f"{diag.message_primary} ({diag.message_detail or ''})".strip()) from None
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


def _copy_text(spec: LayerSpec, version: int, chunk, crs: str | None, uri: str, stats: LoadStats) -> str:
    """One chunk in COPY text format: tab-separated, \\N for NULL, geometry as EWKB hex."""
    if spec.spatial:
        geometries = normalise_geometries(chunk.geometries, crs, uri, chunk.row_ids, stats)
        keep = np.flatnonzero(~shapely.is_missing(geometries))
    else:
        keep = np.arange(len(chunk.row_ids))
    columns = [[str(version)] * len(keep), chunk.row_ids[keep].astype(str).tolist()]
    for column in spec.columns:
        source = chunk.fields.get(column.source)
        if source is None:  # an optional field this edition does not have
            columns.append([r"\N"] * len(keep))
            continue
        values, bad = coerce(source[keep], column.kind)
        if bad:
            stats.non_numeric[column.name] = stats.non_numeric.get(column.name, 0) + bad
        columns.append([_copy_value(v) for v in values])
    columns.append([_escape(text) for text in attributes_json(chunk.fields, keep)])
    if spec.spatial:
        ewkb = shapely.to_wkb(shapely.set_srid(geometries[keep], 27700), hex=True, include_srid=True)
        columns.append(ewkb.tolist())
    stats.rows += len(keep)
    return "".join("\t".join(row) + "\n" for row in zip(*columns))


def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return _escape(str(value))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _mark_failed(engine: sa.Engine, spec: LayerSpec, version: int, exc: BaseException) -> None:
    # Our own messages name file and rule; anything else is summarised by type (no bodies in the log).
    note = str(exc) if isinstance(exc, ReferenceDataError) else f"load failed: {type(exc).__name__}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {spec.table} WHERE version = :version"), {"version": version})
        conn.execute(sa.text(
            "UPDATE nrf.reference_data_version SET status = 'failed', qc_status = 'failed', notes = :note "
            "WHERE layer = :layer AND version = :version"
        ), {"note": note, "layer": spec.name, "version": version})
    log.warning("reference %s: version %s failed: %s", spec.name, version, note)


def _analyze(engine: sa.Engine, spec: LayerSpec) -> None:
    """Fresh planner statistics after a bulk load, where the role may take them.

    The app role does not own the tables (platform.md §2.2); PostgreSQL < 17 only lets the owner
    ANALYZE, so then autovacuum's analyse (triggered by the inserts) has to do.
    """
    with engine.begin() as conn:
        owner = conn.execute(sa.text(
            "SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class WHERE oid = CAST(:table AS regclass)"
        ), {"table": spec.table}).scalar_one()
        if owner:
            conn.execute(sa.text(f"ANALYZE {spec.table}"))
        else:
            log.info("reference %s: ANALYZE left to autovacuum (the app role does not own the table)", spec.name)
