"""One declarative spec per reference layer (reference-data.md §2–§3).

Table and column names here are the only identifiers ever formatted into SQL; everything else is
passed as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "int", "float"]


@dataclass(frozen=True)
class Column:
    """A typed table column filled from one source field; numeric kinds are coerced (§6)."""

    name: str
    source: str
    kind: Kind = "text"


@dataclass(frozen=True)
class LayerSpec:
    name: str  # = the table in schema nrf
    source_file: str  # relative to the shipped reference directory
    source_layer: str  # GeoPackage layer or SQLite table
    spatial: bool
    columns: tuple[Column, ...]
    key_not_null: tuple[str, ...] = ()
    key_unique: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return f"nrf.{self.name}"

    @property
    def row_id(self) -> str:
        """The 1-based source position column."""
        return "feature_id" if self.spatial else "source_row"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec(
            "coefficient_layer", "coefficient_layer.gpkg", "NMSCoefficientLayer", True,
            (Column("crome_id", "cromeid"), Column("land_use_cat", "Land_use_cat"),
             Column("nn_catchment", "NN_Catchment"), Column("subcatchment", "SubCatchment"),
             Column("lu_curr_n_coeff", "LU_CurrNcoeff", "float"), Column("lu_curr_p_coeff", "LU_CurrPcoeff", "float"),
             Column("n_resi_coeff", "N_ResiCoeff", "float"), Column("p_resi_coeff", "P_ResiCoeff", "float")),
            key_not_null=("crome_id",), key_unique=("crome_id",),
        ),
        LayerSpec(
            "nn_catchments", "nn_catchments.gpkg", "nn_catchments", True,
            (Column("oid", "OID", "int"), Column("n2k_site_name", "N2K_Site_N"), Column("label", "Label")),
            key_not_null=("oid", "n2k_site_name"), key_unique=("oid",),
        ),
        LayerSpec(
            "wwtw_catchments", "wwtw_catchments.gpkg", "wwtw_catchments", True,
            (Column("wwtw_id", "WwTw_ID", "int"), Column("wwtw_name", "WwTW")),
            key_not_null=("wwtw_id",),
        ),
        LayerSpec("lpa_boundaries", "lpa_boundaries.gpkg", "lpa_boundaries", True,
                  (Column("name", "NAME"),), key_not_null=("name",)),
        LayerSpec("subcatchments", "subcatchments.gpkg", "subcatchments", True,
                  (Column("opcat_name", "OPCAT_NAME"),), key_not_null=("opcat_name",)),
        LayerSpec("edp_boundaries", "edp_boundaries.gpkg", "edp_boundaries", True,
                  (Column("edp_name", "EDP_Name"), Column("edp_area", "EDP_Area")), key_not_null=("edp_name",)),
        LayerSpec("edp_edges", "edp_edges.gpkg", "edp_edges", True,
                  (Column("edp_name", "EDPName"),), key_not_null=("edp_name",)),
        LayerSpec(
            "edp_excluded_areas", "edp_excluded_areas.gpkg", "edp_excluded_areas", True,
            (Column("site_name", "site_name"), Column("designation_type", "designation_type"),
             Column("buff_dist_m", "buff_dist_m", "float")),
        ),
        LayerSpec("gcn_risk_zones", "gcn_risk_zones.gpkg", "gcn_risk_zones", True,
                  (Column("rz", "RZ"),), key_not_null=("rz",)),
        LayerSpec("gcn_ponds", "gcn_ponds.gpkg", "NRF_Ponds", True, (Column("pond_id", "Pond_ID"),)),
        LayerSpec(
            "wwtw_lookup", "lookups/lookups.sqlite", "WwTw_lookup", False,
            # The code is coerced to an integer (a leading tab is stripped, free text gives NULL);
            # the raw text is kept beside it.
            (Column("wwtw_code", "WwTW_code", "int"), Column("wwtw_code_raw", "WwTW_code"),
             Column("wwtw_name", "WwTW_name"), Column("wwtw_subcatchment", "Subcatchment_name"),
             Column("n_conc_2025_2030", "Nitrogen_2025_2030", "float"),
             Column("n_conc_2030_onwards", "Nitrogen_2030_onwards", "float"),
             Column("p_conc_2025_2030", "Phosphorus_2025_2030", "float"),
             Column("p_conc_2030_onwards", "Phosphorus_2030_onwards", "float")),
        ),
        LayerSpec(
            "rates_lookup", "lookups/lookups.sqlite", "rates_lookup", False,
            (Column("nn_catchment", "NN_Catchment"), Column("occupancy_rate", "Occ_Rate", "float"),
             Column("water_usage_l_per_person_day", "Water_Usage_L_Day", "float")),
            key_not_null=("nn_catchment",), key_unique=("nn_catchment",),
        ),
    )
}

# The layers each assessment needs in the active release (§4.1).
NUTRIENT_LAYERS = ("coefficient_layer", "nn_catchments", "wwtw_catchments", "lpa_boundaries", "subcatchments",
                   "wwtw_lookup", "rates_lookup")
GCN_LAYERS = ("gcn_risk_zones", "gcn_ponds", "edp_edges")
REQUIRED_LAYERS = NUTRIENT_LAYERS + GCN_LAYERS


def layer_spec(name: str) -> LayerSpec:
    try:
        return LAYERS[name]
    except KeyError:
        raise ValueError(f"unknown reference layer {name!r}; known: {', '.join(LAYERS)}") from None
