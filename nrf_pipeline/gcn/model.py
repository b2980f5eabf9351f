"""Typed inputs and results of the GCN assessment (gcn-method.md §2, §4; contracts.md §3.4).

Reference features are plain tuples (or the NamedTuples below) so a database reader can fill them
row by row; their order never changes a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Sequence

from shapely.geometry.base import BaseGeometry

Route = Literal["SURVEY", "NO_SURVEY"]

# §3.3 (G3): the class index is FID_RZs_Clipped_PairwiseClip.
RZ_INDEX = {"Green": 0, "Amber": 1, "Red": 2}
PANS_VALUES = frozenset({"P", "A", "NS"})
TMPIMP_VALUES = frozenset({"T", "F"})

FLAG_TMPIMP_DEFAULTED = "TMPIMP_DEFAULTED"
FLAG_SURVEY_POND_REPAIRED = "SURVEY_POND_REPAIRED"

HABITAT_COLUMNS = (
    "FID_RLB_Merge_with_Buffer",
    "Id",
    "UniqueRef",
    "UniqueSite",
    "ORIG_FID",
    "Area",
    "UniqueBufferSite",
    "FID_RZs_Clipped_PairwiseClip",
    "Shape_Leng",
    "MHW",
    "RZ",
    "Shape_Length",
    "Shape_Area",
)
# §4.3: the 17 columns; the unsplit piece's Shape_Length/Shape_Area become *_1.
HABITAT_SPLIT_COLUMNS = HABITAT_COLUMNS[:11] + (
    "Shape_Length_1",
    "Shape_Area_1",
    "EDPName",
    "Shape_Length_2",
    "Shape_Area_2",
    "Shape_Area",
)
POND_FREQUENCY_COLUMNS = ("PANS", "Area", "MaxZone", "TmpImp", "FREQUENCY")
POND_FREQUENCY_SPLIT_COLUMNS = ("PANS", "Area", "MaxZone", "TmpImp", "EDPName", "FREQUENCY")


class RiskZoneFeature(NamedTuple):
    """One `gcn_risk_zones` feature: `RZ`, `MHW`, 2-D geometry in EPSG:27700."""

    rz: str
    mhw: str | None
    geometry: BaseGeometry


class PondFeature(NamedTuple):
    """One national `gcn_ponds` feature; `pond_id` is `Pond_ID` (None when empty)."""

    pond_id: str | None
    geometry: BaseGeometry


class EdpEdgeFeature(NamedTuple):
    """One `edp_edges` feature: `EDPName` and the layer's `Shape_Length`/`Shape_Area` (None if missing)."""

    edp_name: str
    shape_length: float | None
    shape_area: float | None
    geometry: BaseGeometry


@dataclass(frozen=True)
class GcnReference:
    """The reference features that intersect the extent (more are harmless), in any order."""

    risk_zones: Sequence[RiskZoneFeature]
    ponds: Sequence[PondFeature]
    edp_edges: Sequence[EdpEdgeFeature]


@dataclass(frozen=True)
class SurveyPond:
    """One applicant survey pond (contracts.md §2.2 `gcnSurveyPonds`), validated by `assess_gcn` (G8)."""

    geometry: BaseGeometry
    pans: str | None
    tmp_imp: str | None = None
    pond_id: str | None = None


@dataclass(frozen=True)
class HabitatRow:
    """One `Habitat_Impact` row (§4.1): (site or buffer row) ∩ risk-zone class ∩ pond buffers."""

    fid: int  # FID_RLB_Merge_with_Buffer
    id: Any  # the site's input Id; None for buffer rows
    unique_ref: str
    unique_site: str
    orig_fid: int
    area: str  # "RLB" or "Buffer"
    unique_buffer_site: str | None
    rz_index: int
    mhw: str | None
    rz: str
    shape_length: float
    shape_area: float
    geometry: BaseGeometry = field(compare=False, repr=False)

    def key_columns(self) -> list[Any]:
        """The columns up to `RZ` that every split row repeats (`Shape_Leng` stays empty, §4.1)."""
        return [
            self.fid,
            self.id,
            self.unique_ref,
            self.unique_site,
            self.orig_fid,
            self.area,
            self.unique_buffer_site,
            self.rz_index,
            None,
            self.mhw,
            self.rz,
        ]

    def record(self) -> dict[str, Any]:
        return dict(zip(HABITAT_COLUMNS, self.key_columns() + [self.shape_length, self.shape_area]))


@dataclass(frozen=True)
class HabitatSplitRow:
    """One `Habitat_Impact_EDPSplit` row (§3.8): the part of a habitat piece in one EDP edge area."""

    habitat: HabitatRow
    edp_name: str | None  # None: the part outside every EDP edge
    edp_shape_length: float | None
    edp_shape_area: float | None
    shape_area: float

    def record(self) -> dict[str, Any]:
        values = self.habitat.key_columns() + [
            self.habitat.shape_length,
            self.habitat.shape_area,
            self.edp_name,
            self.edp_shape_length,
            self.edp_shape_area,
            self.shape_area,
        ]
        return dict(zip(HABITAT_SPLIT_COLUMNS, values))


@dataclass(frozen=True)
class PondFrequencyRow:
    """One `Ponds_Impact_Frequency` row (§4.2)."""

    pans: str
    area: str
    max_zone: str
    tmp_imp: str
    frequency: int

    def record(self) -> dict[str, Any]:
        return dict(zip(POND_FREQUENCY_COLUMNS, (self.pans, self.area, self.max_zone, self.tmp_imp, self.frequency)))


@dataclass(frozen=True)
class PondFrequencySplitRow:
    """One `Ponds_Impact_Frequency_EDPSplit` row (§3.8)."""

    pans: str
    area: str
    max_zone: str
    tmp_imp: str
    edp_name: str | None
    frequency: int

    def record(self) -> dict[str, Any]:
        values = (self.pans, self.area, self.max_zone, self.tmp_imp, self.edp_name, self.frequency)
        return dict(zip(POND_FREQUENCY_SPLIT_COLUMNS, values))


@dataclass(frozen=True)
class PondDetail:
    """One assigned pond (§4.4), for audit. `concatenate_rz`/`max_zone` are None when it touches no zone."""

    pond_id: str
    pans: str
    tmp_imp: str
    area: str
    concatenate_rz: str | None
    max_zone: str | None
    edp_name: str | None
    geometry: BaseGeometry = field(compare=False, repr=False)  # the assigned geometry (§3.5)

    def record(self) -> dict[str, Any]:
        return {
            "pondId": self.pond_id,
            "PANS": self.pans,
            "TmpImp": self.tmp_imp,
            "Area": self.area,
            "CONCATENATE_RZ": self.concatenate_rz,
            "MaxZone": self.max_zone,
            "EDPName": self.edp_name,
        }


@dataclass(frozen=True)
class HabitatTotal:
    """Habitat area of one (`Area`, `RZ`) in one EDP, summed over the site rows or the buffer rows."""

    area: str
    rz: str
    area_m2: float


@dataclass(frozen=True)
class EdpSummary:
    """The summary of one EDP name (§4.5); `edp_name` None is the part outside every EDP edge."""

    edp_name: str | None
    pond_groups: tuple[PondFrequencyRow, ...]  # sorted like the frequency table
    habitat: tuple[HabitatTotal, ...]  # RLB then Buffer, each Red, Amber, Green; no zero rows

    @property
    def pond_total(self) -> int:
        return sum(g.frequency for g in self.pond_groups)


@dataclass(frozen=True)
class GcnResult:
    """Everything one GCN assessment produces; tables are in their §4 order."""

    method_version: str
    buffer_includes_site: bool
    route: Route
    unique_ref: str
    habitat_impact: tuple[HabitatRow, ...]
    pond_frequency: tuple[PondFrequencyRow, ...]
    habitat_split: tuple[HabitatSplitRow, ...]
    pond_frequency_split: tuple[PondFrequencySplitRow, ...]
    pond_detail: tuple[PondDetail, ...]
    summaries: tuple[EdpSummary, ...]  # sorted by EDP name, None last
    flags: tuple[str, ...]  # sorted

    def to_edp_entries(self) -> list[dict[str, Any]]:
        """The GCN entries of the PATCH body (contracts.md §3.4), sorted by `edpName`, null last."""
        return [self._entry(s) for s in self.summaries]

    def _entry(self, summary: EdpSummary) -> dict[str, Any]:
        habitat = []
        for total in summary.habitat:
            area_m2 = round(total.area_m2, 2)
            if area_m2 == 0:  # a sliver that rounds to nothing is a zero row
                continue
            habitat.append(
                {
                    "area": total.area,
                    "riskZone": total.rz,
                    "areaM2": area_m2,
                    "areaHa": round(total.area_m2 / 10_000.0, 4),
                }
            )
        groups = [
            {"pans": g.pans, "area": g.area, "maxZone": g.max_zone, "tmpImp": g.tmp_imp, "count": g.frequency}
            for g in summary.pond_groups
        ]
        return {
            "edpId": summary.edp_name,
            "edpName": summary.edp_name,
            "edpType": "GCN",
            "methodVersion": self.method_version,
            "impact": {
                "route": self.route,
                "bufferIncludesSite": self.buffer_includes_site,
                "ponds": {"total": summary.pond_total, "groups": groups},
                "habitat": habitat,
            },
        }
