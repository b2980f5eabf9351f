"""The nutrient method versions (nutrient-method.md §1, constants of §2.0) as declarative rules.

Code never branches on a version name: it reads the rule fields of the `NutrientMethod` in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nrf_pipeline.errors import AssessmentError

DEFAULT_METHOD = "nrf-2026-04"

# §4: "legacy" shows a wastewater load blank when one of its inputs is missing, "assessor" 0.0.
MissingValues = Literal["legacy", "assessor"]


@dataclass(frozen=True)
class NutrientMethod:
    """One named rule set. Constants are part of the version, not environment settings (§2.0)."""

    name: str
    wwtw_factor_k: float
    # SuDS applies only from this many dwellings; None means on every site (§2.5).
    suds_min_dwellings: int | None
    greenspace: bool
    # Filter rule 2 (§2.8): drop Package Treatment Plant sites outside every NN catchment.
    drop_ptp_outside_nn: bool
    # D2: largest-overlap catchment, then national default, for single-site batches (§2.6.2).
    single_site_rates_fallback: bool
    # D4: subtract same-name NN overlap pieces (§2.4.4).
    nn_overlap_counted_once: bool
    missing_values: MissingValues
    # D8: add `people` × water use to the wastewater volume (§2.6.4).
    uses_people_count: bool

    m2_per_ha: float = 10_000.0
    days_per_year: float = 365.25
    mg_per_kg: float = 1_000_000.0
    buffer_fraction: float = 0.20
    suds_removal: float = 0.25
    gs_min_area_ha: float = 1.00
    gs_fraction: float = 0.20
    gs_n_coeff: float = 3.0
    gs_p_coeff: float = 0.2
    ptp_wwtw_code: int = 141
    ptp_wwtw_name: str = "Package Treatment Plant default"
    default_lpa: str = "UNKNOWN"
    national_occupancy: float = 2.4
    national_water_l: float = 120.0


METHODS: dict[str, NutrientMethod] = {
    m.name: m
    for m in (
        NutrientMethod(
            name="iat-2025-09",
            wwtw_factor_k=1.0,
            suds_min_dwellings=None,
            greenspace=False,
            drop_ptp_outside_nn=False,
            single_site_rates_fallback=False,
            nn_overlap_counted_once=False,
            missing_values="legacy",
            uses_people_count=False,
        ),
        NutrientMethod(
            name="iat-2025-10",
            wwtw_factor_k=0.9,
            suds_min_dwellings=None,
            greenspace=False,
            drop_ptp_outside_nn=True,
            single_site_rates_fallback=False,
            nn_overlap_counted_once=False,
            missing_values="legacy",
            uses_people_count=False,
        ),
        NutrientMethod(
            name="nrf-2026-04",
            wwtw_factor_k=0.9,
            suds_min_dwellings=50,
            greenspace=True,
            drop_ptp_outside_nn=True,
            single_site_rates_fallback=True,
            nn_overlap_counted_once=True,
            missing_values="assessor",
            uses_people_count=True,
        ),
    )
}


def get_method(name: str) -> NutrientMethod:
    """The method version called `name`; an unknown name is a configuration error (§1)."""
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(METHODS)
        summary = f"unknown nutrient method version (known: {known})"
        raise AssessmentError("config_invalid", summary) from None
