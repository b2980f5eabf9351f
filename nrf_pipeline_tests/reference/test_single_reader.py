"""Every reader resolves its layer versions through `resolve_active_release` (reference-data.md §4.1)."""

from __future__ import annotations

from nrf_pipeline_tests.paths import REPO

OWNERS = {"nrf_pipeline/reference", "nrf_pipeline/db/models.py"}


def test_only_the_reference_package_reads_the_activation_state():
    offenders = [
        str(path.relative_to(REPO)) for path in (REPO / "nrf_pipeline").rglob("*.py")
        if not any(str(path.relative_to(REPO)).startswith(owner) for owner in OWNERS)
        and any(name in path.read_text() for name in ("active_reference_data", "reference_data_activation"))
    ]
    assert offenders == [], "read the active release with nrf_pipeline.reference.resolve_active_release"
