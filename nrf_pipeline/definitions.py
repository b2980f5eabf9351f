"""The Dagster code location: every domain's definitions, merged, with the shared resources."""

import dagster as dg

from nrf_pipeline.defs.resources import RESOURCES

defs = dg.Definitions(resources=RESOURCES)
