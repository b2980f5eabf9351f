"""Reading reference sources: local paths or s3:// URIs, hashed, and read in chunks.

A GeoPackage needs random access, so an S3 object is first downloaded to a temporary file (hashing
it on the way); then both kinds are read the same way.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import shapely

from nrf_pipeline.reference.errors import ReferenceDataError

HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Source:
    uri: str  # as configured, recorded as provenance
    path: Path  # the local file read
    sha256: str
    bytes: int


@dataclass
class Chunk:
    """Consecutive source rows: 1-based positions, fields as object/numeric arrays, geometries."""

    row_ids: np.ndarray
    fields: dict[str, np.ndarray]
    geometries: np.ndarray | None


@contextmanager
def fetch(uri: str, endpoint_url: str | None = None) -> Iterator[Source]:
    """The source as a local file with its sha256 and size. boto3 reads AWS_ENDPOINT_URL itself
    when `endpoint_url` is not given (moto locally, nothing on CDP)."""
    if uri.startswith("s3://"):
        with tempfile.TemporaryDirectory(prefix="nrf-reference-") as tmp:
            path = Path(tmp) / (Path(urlparse(uri).path).name or "source")
            _download(uri, path, endpoint_url)
            yield Source(uri, path, *_hash(path))
        return
    path = Path(uri.removeprefix("file://"))
    if not path.is_file():
        raise ReferenceDataError(uri, "source_exists", "file not found")
    yield Source(uri, path, *_hash(path))


def _download(uri: str, path: Path, endpoint_url: str | None) -> None:
    import boto3
    from botocore.exceptions import ClientError

    parsed = urlparse(uri)
    client = boto3.client("s3", **({"endpoint_url": endpoint_url} if endpoint_url else {}))
    try:
        with path.open("wb") as out:
            body = client.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"]
            shutil.copyfileobj(body, out, HASH_BLOCK)
    except ClientError as exc:
        raise ReferenceDataError(uri, "source_exists", f"S3 object not readable ({exc.response['Error']['Code']})") from None


def _hash(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class GeoPackageLayer:
    """One layer of a GeoPackage, described before anything is loaded."""

    source: Source
    layer: str
    crs: str | None
    geometry_type: str
    fields: tuple[str, ...]
    features: int

    @classmethod
    def open(cls, source: Source, layer: str) -> GeoPackageLayer:
        # pyogrio (and with it geopandas and pandas) only when a layer is loaded: every assessment
        # run worker imports the code location, and must not pay for them at start.
        import pyogrio

        try:
            layers = [name for name, _ in pyogrio.list_layers(source.path)]
        except Exception as exc:  # noqa: BLE001 (GDAL raises several types for a corrupt file)
            raise ReferenceDataError(source.uri, "source_readable", f"not a readable GeoPackage ({type(exc).__name__})") from None
        if layer not in layers:
            raise ReferenceDataError(source.uri, "source_layer", f"no layer {layer!r} (layers: {', '.join(layers)})")
        try:
            info = pyogrio.read_info(source.path, layer=layer, force_feature_count=True)
        except Exception as exc:  # noqa: BLE001
            raise ReferenceDataError(source.uri, "source_readable", f"layer {layer!r} cannot be read ({type(exc).__name__})") from None
        return cls(source, layer, info["crs"], info["geometry_type"] or "None", tuple(info["fields"]), info["features"])

    def chunks(self, size: int) -> Iterator[Chunk]:
        """Read `size` features at a time, so a national layer never sits in memory whole."""
        import pyogrio.raw

        for start in range(0, self.features, size):
            try:
                meta, _, wkb, values = pyogrio.raw.read(self.source.path, layer=self.layer, skip_features=start,
                                                        max_features=size)
            except Exception as exc:  # noqa: BLE001
                raise ReferenceDataError(self.source.uri, "source_readable",
                                         f"features from {start + 1} cannot be read ({type(exc).__name__})") from None
            geometries = shapely.from_wkb(wkb)
            yield Chunk(np.arange(start + 1, start + 1 + len(geometries)), dict(zip(meta["fields"], values)), geometries)


@dataclass(frozen=True)
class SqliteTable:
    """A lookup table of a SQLite file, in rowid order (the first row wins for duplicates)."""

    source: Source
    table: str
    fields: tuple[str, ...]

    @classmethod
    def open(cls, source: Source, table: str) -> SqliteTable:
        try:
            with closing(_connect(source)) as conn:
                tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                if table not in tables:
                    raise ReferenceDataError(source.uri, "source_layer", f"no table {table!r} (tables: {', '.join(tables)})")
                fields = tuple(r[1] for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,)))
        except sqlite3.DatabaseError as exc:
            raise ReferenceDataError(source.uri, "source_readable", f"not a readable SQLite file ({exc})") from None
        return cls(source, table, fields)

    def chunks(self, size: int) -> Iterator[Chunk]:
        # The table name was matched against sqlite_master above; quoting makes it a plain identifier.
        identifier = '"' + self.table.replace('"', '""') + '"'
        with closing(_connect(self.source)) as conn:
            cursor = conn.execute(f"SELECT rowid, * FROM {identifier} ORDER BY rowid")  # noqa: S608
            position = 0
            while rows := cursor.fetchmany(size):
                columns = list(zip(*rows))
                fields = {name: np.array(values, dtype=object) for name, values in zip(self.fields, columns[1:])}
                yield Chunk(np.arange(position + 1, position + 1 + len(rows)), fields, None)
                position += len(rows)


def _connect(source: Source) -> sqlite3.Connection:
    # Read-only: a source file is never modified.
    return sqlite3.connect(f"file:{source.path}?mode=ro", uri=True)
