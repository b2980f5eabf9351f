"""The per-layer quality checks (reference-data.md §5.1) as Dagster asset checks.

They are declared on each layer asset (`check_specs`) and evaluated in the same step, right after the
load, because they need the load's own configuration (allow_shrink) and version. ERROR-capable
checks are blocking; whatever they say, nothing becomes active until a release is built and
activated by a separate job.
"""

from __future__ import annotations

import dagster as dg

from nrf_pipeline.reference.checks import ERROR, CheckResult, layer_checks


def check_specs(layer: str, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(check.name, asset=key, blocking=check.blocking,
                              description=f"{'ERROR' if check.blocking else 'WARN'}: reference-data.md §5.1 {check.name}")
            for check in layer_checks(layer)]


def check_results(results: list[CheckResult], key: dg.AssetKey) -> list[dg.AssetCheckResult]:
    return [dg.AssetCheckResult(
        asset_key=key, check_name=r.name, passed=r.passed, description=r.message,
        severity=dg.AssetCheckSeverity.ERROR if r.severity == ERROR else dg.AssetCheckSeverity.WARN,
        metadata={"details": dg.MetadataValue.json(r.details)},
    ) for r in results]
