"""The Dagster code location: every domain's definitions, merged, with the shared resources."""

import dagster as dg

from nrf_pipeline.defs import assessment, reference
from nrf_pipeline.defs.resources import RESOURCES

# Each domain package under nrf_pipeline/defs/ exposes `defs`, a dg.Definitions without resources.
DOMAINS: list[dg.Definitions] = [reference.defs, assessment.defs]

defs = dg.Definitions.merge(*DOMAINS, dg.Definitions(resources=RESOURCES))
