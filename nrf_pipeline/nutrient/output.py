"""The nutrient CSV output (nutrient-method.md §3)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from nrf_pipeline.nutrient.calculator import NutrientResult

IAT_COLUMNS = (
    "RLB_ID",
    "id",
    "Name",
    "Dwel_Cat",
    "Source",
    "Dwellings",
    "Dev_Area_Ha",
    "AreaInNNCatchment",
    "NN_Catchment",
    "Dev_SubCatchment",
    "Majority_LPA",
    "Majority_WwTw_ID",
    "WwTW_name",
    "WwTw_SubCatchment",
    "N_LU_Uplift",
    "P_LU_Uplift",
    "N_LU_postSuDS",
    "P_LU_postSuDS",
    "Occ_Rate",
    "Water_Usage_L_Day",
    "Litres_used",
    "Nitrogen_2025_2030",
    "Nitrogen_2030_onwards",
    "Phosphorus_2025_2030",
    "Phosphorus_2030_onwards",
    "N_WwTW_Temp",
    "P_WwTW_Temp",
    "N_WwTW_Perm",
    "P_WwTW_Perm",
    "N_Total",
    "P_Total",
)
EXTRA_COLUMNS = (
    "shape_area",
    "dwelling_density",
    "people",
    "method_version",
    "rates_source",
    "flags",
)
COLUMNS = IAT_COLUMNS + EXTRA_COLUMNS


def format_value(value: object) -> str:
    """One CSV cell: floats by repr (shortest round trip), integers without a decimal point,
    NaN and None empty, flags joined with `;`."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(float(value))  # float() drops numpy's repr
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, tuple):
        return ";".join(value)
    return str(value)


def _quote(cell: str) -> str:
    """RFC 4180: quote a field with a comma, quote or line break (the csv module leaves a lone
    `\\r` unquoted when the line terminator is `\\n`)."""
    if any(c in cell for c in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def write_csv(
    results: Iterable[NutrientResult],
    path_or_file: str | Path | TextIO,
    columns: Sequence[str] = COLUMNS,
) -> None:
    """Write the given results (usually `kept_results(...)`) in §3 format: UTF-8, `\\n` endings."""
    lines = [",".join(_quote(c) for c in columns)]
    for result in results:
        row = result.to_row()
        lines.append(",".join(_quote(format_value(row[c])) for c in columns))
    text = "".join(line + "\n" for line in lines)
    if isinstance(path_or_file, (str, Path)):
        with open(path_or_file, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        path_or_file.write(text)
