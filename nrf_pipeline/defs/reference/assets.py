"""One asset per reference layer, `reference/<layer>`: each materialisation loads (or reuses) one
layer version and checks it. Backfilling one, several or all layers = materialising those assets."""

import dagster as dg
from pydantic import Field

from nrf_pipeline.defs.reference.checks import check_results, check_specs
from nrf_pipeline.defs.resources import DatabaseResource
from nrf_pipeline.reference.checks import run_checks
from nrf_pipeline.reference.layers import LAYERS
from nrf_pipeline.reference.loader import load_layer
from nrf_pipeline.reference.releases import source_uri

GROUP = "reference"


class ReferenceLoadConfig(dg.Config):
    source_uri: str | None = Field(None, description="local path or s3:// URI; default: the shipped file "
                                                     "under REFERENCE_SOURCE_DIR")
    source_layer: str | None = Field(None, description="GeoPackage layer or SQLite table; default: the spec's")
    assume_crs: str | None = Field(None, description="CRS for a source that declares none, e.g. EPSG:27700")
    allow_shrink: bool = Field(False, description="waive row_count_floor (needs allow_shrink_reason)")
    allow_shrink_reason: str | None = None
    force: bool = Field(False, description="load a new version even if the source's sha256 is already loaded")


def reference_asset(layer: str) -> dg.AssetsDefinition:
    key = dg.AssetKey([GROUP, layer])

    @dg.asset(key=key, group_name=GROUP, kinds={"postgres"}, check_specs=check_specs(layer, key),
              description=f"Versions of nrf.{layer} (reference-data.md §2). Each materialisation loads one version; "
                          "it is used only after a release containing it is activated.")
    def _asset(context: dg.AssetExecutionContext, config: ReferenceLoadConfig, database: DatabaseResource):
        if config.allow_shrink and not config.allow_shrink_reason:
            raise dg.Failure("allow_shrink needs allow_shrink_reason, which is recorded")
        settings = database.settings()
        uri = config.source_uri
        if not uri:
            if not settings.REFERENCE_SOURCE_DIR:
                raise dg.Failure("no source_uri configured and REFERENCE_SOURCE_DIR is not set")
            uri = source_uri(settings.REFERENCE_SOURCE_DIR, layer)
        engine = database.engine()
        loaded = load_layer(engine, layer, uri, source_layer=config.source_layer, assume_crs=config.assume_crs,
                            force=config.force, run_id=context.run_id)
        results = run_checks(engine, layer, loaded.version,
                             allow_shrink_reason=config.allow_shrink_reason if config.allow_shrink else None)
        context.log.info(f"{layer}: version {loaded.version} ({'reused' if loaded.reused else 'loaded'}), "
                         f"{loaded.row_count} rows")
        return dg.MaterializeResult(
            metadata={
                "version": loaded.version, "reused": loaded.reused, "source_uri": loaded.source_uri,
                "source_layer": loaded.source_layer, "source_sha256": loaded.source_sha256,
                "source_bytes": loaded.source_bytes, "row_count": loaded.row_count, "loaded_at": loaded.loaded_at,
                "loaded_by_run_id": loaded.run_id or "",
            },
            check_results=check_results(results, key),
        )

    return _asset


REFERENCE_ASSETS = [reference_asset(layer) for layer in LAYERS]
