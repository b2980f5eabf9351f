"""Dagster definitions of the reference data domain (reference-data.md §4–§5)."""

import dagster as dg

from nrf_pipeline.defs.reference.assets import REFERENCE_ASSETS
from nrf_pipeline.defs.reference.jobs import REFERENCE_JOBS

defs = dg.Definitions(assets=REFERENCE_ASSETS, jobs=REFERENCE_JOBS)
