"""`nrf-pipeline assess <kind>`: assess a file of sites outside Dagster and write the results.

Heavy modules (pandas, GDAL, SQLAlchemy, the reference loader) are imported inside the command,
so that `nrf-pipeline --help` and the other commands do not pay for them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nrf_pipeline.cli import assess_gcn
from nrf_pipeline.devstack.paths import DEFAULT_REFERENCE_DIR
from nrf_pipeline.nutrient.methods import METHODS

# Sites measured per spatial query: one query for any ordinary batch, progress steps for big ones.
PROGRESS_CHUNK = 250


def _dwellings(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, not {text!r}")
    return value


def _fail(message: str) -> int:
    print(f"nrf-pipeline: error: {message}", file=sys.stderr)
    return 1


def cmd_nutrient(args: argparse.Namespace) -> int:
    """Read the sites, assess them as one batch, write the CSV; non-zero if any site failed."""
    from nrf_pipeline.db.engine import DatabaseUnavailable
    from nrf_pipeline.errors import AssessmentError
    from nrf_pipeline.geometry import InputFileError
    from nrf_pipeline.nutrient.methods import get_method
    from nrf_pipeline.nutrient.output import write_csv
    from nrf_pipeline.reference import ReferenceDataError, ReleaseError
    from nrf_pipeline.settings import get_settings
    from nrf_pipeline.sites import read_sites

    settings = get_settings()
    try:
        method = get_method(args.method or settings.NUTRIENT_METHOD_VERSION)
    except AssessmentError as exc:
        return _fail(str(exc))
    try:
        sites, site_errors = read_sites(args.input, dwellings=args.dwellings, manifest=args.manifest)
    except (InputFileError, OSError) as exc:
        return _fail(str(exc))
    for error in site_errors:
        print(f"nrf-pipeline: error: {error.message} [{error.code}]", file=sys.stderr)
    try:
        run = _assess(sites, method, settings, args.reference_dir)
    except (AssessmentError, DatabaseUnavailable, ReferenceDataError, ReleaseError) as exc:
        return _fail(str(exc))
    write_csv(run.kept, args.output)
    print(
        f"{len(run.results)} sites assessed ({len(run.kept)} in scope, {len(site_errors)} with input errors) "
        f"under {method.name} against reference data release {run.release.release_id}; wrote {args.output}",
        file=sys.stderr,
    )
    return 1 if site_errors else 0


def _assess(sites, method, settings, reference_dir: Path):
    """Against the configured database's active release, or else a local one with `reference_dir`."""
    from nrf_pipeline.cli.database import database

    with database(settings, reference_dir) as engine:
        return _assess_with_progress(engine, sites, method)


def _assess_with_progress(engine, sites, method):
    """A progress bar on a terminal only, so that logs and pipes stay clean."""
    from tqdm import tqdm

    from nrf_pipeline.nutrient.assess import assess_sites

    with tqdm(total=len(sites), unit="site", disable=not sys.stderr.isatty() or len(sites) <= 1) as bar:
        return assess_sites(engine, sites, method, chunk_size=PROGRESS_CHUNK, progress=bar.update)


def register(subcommands) -> None:
    parser = subcommands.add_parser("assess", help="assess a file of sites and write the results")
    kinds = parser.add_subparsers(dest="assessment", required=True)

    nutrient = kinds.add_parser(
        "nutrient",
        help="nutrient impact (nutrient-method.md) of every site of a file, as one batch",
        description="Assess every site of INPUT as one batch and write the IAT columns, then the extra "
        "columns, as CSV. Without a configured database (NRF_DATABASE_URL or DB_HOST) a local PostGIS "
        "is started with the reference data of --reference-dir and stopped afterwards.",
    )
    nutrient.add_argument("input", type=Path, help="shapefile, GeoJSON file, zip, or a folder holding one")
    nutrient.add_argument("--method", choices=list(METHODS),
                          help="method version (default: NUTRIENT_METHOD_VERSION, else nrf-2026-04)")
    nutrient.add_argument("--output", "-o", type=Path, required=True, help="CSV file to write")
    nutrient.add_argument("--dwellings", type=_dwellings, help="dwellings of every site, replacing the file's")
    nutrient.add_argument("--manifest", type=Path, help="manifest.json giving dwellings of sites without any")
    nutrient.add_argument("--reference-dir", type=Path, default=DEFAULT_REFERENCE_DIR,
                          help="reference set to load when no database is configured "
                          f"(default {DEFAULT_REFERENCE_DIR})")
    nutrient.set_defaults(func=cmd_nutrient)
    assess_gcn.register(kinds)
