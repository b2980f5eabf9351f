"""The four GCN tables as legacy pipe-delimited PSV files with a header row (gcn-method.md §4)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable, Sequence

from nrf_pipeline.gcn.model import (
    HABITAT_COLUMNS,
    HABITAT_SPLIT_COLUMNS,
    POND_FREQUENCY_COLUMNS,
    POND_FREQUENCY_SPLIT_COLUMNS,
    GcnResult,
)


def write_psv_tables(result: GcnResult, directory: Path) -> list[Path]:
    """Write `Habitat_Impact.psv`, `Ponds_Impact_Frequency.psv` and the two EDP split tables."""
    directory.mkdir(parents=True, exist_ok=True)
    tables = [
        ("Habitat_Impact.psv", HABITAT_COLUMNS, result.habitat_impact),
        ("Ponds_Impact_Frequency.psv", POND_FREQUENCY_COLUMNS, result.pond_frequency),
        ("Habitat_Impact_EDPSplit.psv", HABITAT_SPLIT_COLUMNS, result.habitat_split),
        ("Ponds_Impact_Frequency_EDPSplit.psv", POND_FREQUENCY_SPLIT_COLUMNS, result.pond_frequency_split),
    ]
    paths = []
    for name, columns, rows in tables:
        path = directory / name
        _write(path, columns, (row.record() for row in rows))
        paths.append(path)
    return paths


def _write(path: Path, columns: Sequence[str], records: Iterable[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="|", lineterminator="\n")
        writer.writerow(columns)
        for record in records:
            # None is an empty cell; floats keep full precision (repr), as in the legacy files.
            writer.writerow(["" if record[c] is None else record[c] for c in columns])
