"""The GCN method versions (gcn-method.md §1, parameters of §2) as declarative rules.

Code never branches on a version name: it reads the fields of the `GcnMethod` in force.
"""

from __future__ import annotations

from dataclasses import dataclass

from nrf_pipeline.errors import AssessmentError

DEFAULT_METHOD = "gcn-2025-11"


@dataclass(frozen=True)
class GcnMethod:
    """One named rule set. The parameters are part of the version, not environment settings (§2)."""

    name: str
    # G1/G2: True = one dissolved buffer row that contains the site; False = the ring minus the
    # site, one row per part.
    buffer_includes_site: bool

    site_buffer_m: float = 250.0
    pond_buffer_m: float = 250.0
    # GEOS and PostGIS default to 8, which misses the baselines by up to 1e-2 relative (§2).
    quad_segs: int = 16
    grid_size: float = 0.0001
    # §3.8: a piece's remainder outside every EDP edge below this is a precision sliver.
    edp_remainder_min_m2: float = 1.0


METHODS: dict[str, GcnMethod] = {
    m.name: m
    for m in (
        GcnMethod(name="gcn-2025-11", buffer_includes_site=True),
        GcnMethod(name="gcn-2025-09-ring", buffer_includes_site=False),
    )
}


def get_method(name: str) -> GcnMethod:
    """The method version called `name`; an unknown name is a configuration error (§1)."""
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(METHODS)
        raise AssessmentError("config_invalid", f"unknown GCN method version (known: {known})") from None
