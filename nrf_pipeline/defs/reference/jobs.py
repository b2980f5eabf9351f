"""Release, activation, rollback and purge jobs (reference-data.md §4.3–4.4), one op each."""

import dagster as dg
from pydantic import Field

from nrf_pipeline.defs.resources import DatabaseResource
from nrf_pipeline.reference import releases


class ReleaseConfig(dg.Config):
    base_release: int | None = Field(None, description="default: the active release")
    layers: dict[str, int] = Field(default_factory=dict, description="{layer: version} replacing the base's members")
    label: str | None = None


class ActivateConfig(dg.Config):
    release_id: int
    reason: str


class RollbackConfig(dg.Config):
    to_release_id: int | None = Field(None, description="default: the previously active release")
    reason: str


class PurgeConfig(dg.Config):
    retention_releases: int | None = Field(None, description="default: REFERENCE_RETENTION_RELEASES")


@dg.op
def build_reference_release(context: dg.OpExecutionContext, config: ReleaseConfig, database: DatabaseResource) -> int:
    result = releases.build_release(database.engine(), config.layers, base_release_id=config.base_release,
                                    label=config.label, run_id=context.run_id)
    context.add_output_metadata({
        "release_id": result.release_id, "status": result.status,
        "members": dg.MetadataValue.json(result.members),
        "checks": dg.MetadataValue.json([{"name": c.name, "passed": c.passed, "severity": c.severity,
                                          "message": c.message} for c in result.checks]),
    })
    if not result.approved:
        raise dg.Failure(f"release {result.release_id} rejected: "
                         + "; ".join(c.message for c in result.checks if c.blocks))
    return result.release_id


@dg.op
def activate_reference_release(context: dg.OpExecutionContext, config: ActivateConfig, database: DatabaseResource) -> int:
    releases.activate_release(database.engine(), config.release_id, reason=config.reason, activated_by=context.run_id)
    return config.release_id


@dg.op
def rollback_reference_release(context: dg.OpExecutionContext, config: RollbackConfig, database: DatabaseResource) -> int:
    target = releases.rollback(database.engine(), config.reason, to_release_id=config.to_release_id,
                               activated_by=context.run_id)
    context.log.info(f"rolled back to release {target}")
    return target


@dg.op
def purge_reference_versions(context: dg.OpExecutionContext, config: PurgeConfig, database: DatabaseResource) -> int:
    retention = config.retention_releases or database.settings().REFERENCE_RETENTION_RELEASES
    purged = releases.purge(database.engine(), retention, run_id=context.run_id)
    context.add_output_metadata({"purged": dg.MetadataValue.json([f"{layer} v{v}" for layer, v in purged])})
    return len(purged)


@dg.job(description="Build a release: the base release with some layers replaced, checked across layers")
def reference_data_release():
    build_reference_release()


@dg.job(description="Activate an approved release (one insert into the activation log)")
def reference_data_activate():
    activate_reference_release()


@dg.job(description="Activate an earlier release again (default: the previously active one)")
def reference_data_rollback():
    rollback_reference_release()


@dg.job(description="Delete the rows of versions outside the retained releases and the last 7 days")
def reference_data_purge():
    purge_reference_versions()


# Materialise every layer asset in one run (the whole-set reload; §7).
reference_data_load_all = dg.define_asset_job("reference_data_load_all", selection=dg.AssetSelection.groups("reference"))

REFERENCE_JOBS = [reference_data_release, reference_data_activate, reference_data_rollback, reference_data_purge,
                  reference_data_load_all]
