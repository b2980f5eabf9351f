"""Reference data: versioned PostGIS layers, quality checks, releases and activation (reference-data.md).

Dagster-free; the assets, checks and jobs in nrf_pipeline/defs/reference/ wrap these functions.
Assessments read reference data only through `resolve_active_release`.
"""

from nrf_pipeline.reference.checks import CheckResult, run_checks
from nrf_pipeline.reference.errors import ReferenceDataError, ReleaseError
from nrf_pipeline.reference.layers import GCN_LAYERS, LAYERS, NUTRIENT_LAYERS, REQUIRED_LAYERS
from nrf_pipeline.reference.loader import LoadedVersion, load_layer
from nrf_pipeline.reference.releases import (
    ActiveRelease, ReleaseResult, activate_release, build_release, load_reference_set, purge,
    resolve_active_release, rollback,
)

__all__ = [
    "GCN_LAYERS", "LAYERS", "NUTRIENT_LAYERS", "REQUIRED_LAYERS", "ActiveRelease", "CheckResult", "LoadedVersion",
    "ReferenceDataError", "ReleaseError", "ReleaseResult", "activate_release", "build_release", "load_layer",
    "load_reference_set", "purge", "resolve_active_release", "rollback", "run_checks",
]
