"""Assess a batch of sites (or the single site of a production run) against the reference data.

The one implementation for every caller: the CLI, the pipeline and the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from nrf_pipeline.nutrient.calculator import NutrientResult, assess_batch, kept_results
from nrf_pipeline.nutrient.methods import NutrientMethod
from nrf_pipeline.nutrient.spatial import measure_sites, read_lookup
from nrf_pipeline.reference import NUTRIENT_LAYERS, ActiveRelease, resolve_active_release
from nrf_pipeline.sites import Site


@dataclass(frozen=True)
class NutrientRun:
    """The results of one run with what they were computed from: the method version and the
    reference data release (its id and the version of every layer read)."""

    results: list[NutrientResult]  # one per site, in batch order, filtered rows included
    release: ActiveRelease
    method: NutrientMethod

    @property
    def kept(self) -> list[NutrientResult]:
        """The canonical output rows (§3): in scope, sorted by RLB_ID."""
        return kept_results(self.results)

    @property
    def data_versions(self) -> dict[str, int]:
        """`{layer: version}` of the layers this run read, as recorded on an assessment."""
        return {layer: self.release.versions[layer] for layer in NUTRIENT_LAYERS}


def assess_sites(
    bind: sa.Engine | sa.Connection,
    sites: Sequence[Site],
    method: NutrientMethod,
    release: ActiveRelease | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> NutrientRun:
    """Assess `sites` as one batch under `method`.

    The active release is resolved once at the start unless `release` is given (tests pin one);
    every query then reads that release's layer versions (reference-data.md §4.1). The sites are
    measured `chunk_size` at a time (default: all in one query), calling `progress(n)` after each
    chunk; the calculation always sees the whole batch, since its rates fallback does (§2.6.2).
    """
    if isinstance(bind, sa.Engine):
        with bind.connect() as conn:
            return assess_sites(conn, sites, method, release, chunk_size, progress)
    if release is None:
        release = resolve_active_release(bind, NUTRIENT_LAYERS)
    else:
        release.require(bind, NUTRIENT_LAYERS)
    step = chunk_size or max(len(sites), 1)
    spatial = []
    for start in range(0, len(sites), step):
        chunk = sites[start : start + step]
        spatial += measure_sites(bind, chunk, release.versions)
        if progress is not None:
            progress(len(chunk))
    wwtw = read_lookup(bind, "wwtw_lookup", release.version("wwtw_lookup"))
    rates = read_lookup(bind, "rates_lookup", release.version("rates_lookup"))
    return NutrientRun(assess_batch(sites, spatial, wwtw, rates, method), release, method)
