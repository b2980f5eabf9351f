"""`nrf-pipeline assess gcn`: the GCN assessment (gcn-method.md) of a file of sites, as four PSV tables.

Registered under `assess` by nrf_pipeline/cli/assess.py. Heavy modules are imported inside the
command, as there, so that `nrf-pipeline --help` does not pay for them.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from nrf_pipeline.gcn.methods import METHODS


def _fail(message: str) -> int:
    print(f"nrf-pipeline: error: {message}", file=sys.stderr)
    return 1


def read_survey_ponds(path: Path) -> list:
    """The ponds of a shapefile or GeoJSON file as `SurveyPond`s in EPSG:27700 (contracts.md §2.2
    properties `PANS`, `TmpImp`, `pondId`). The CRS follows the rules of site files; values are
    validated by the assessment (G8), which also repairs invalid geometries."""
    import pandas as pd

    from nrf_pipeline.gcn.model import SurveyPond
    from nrf_pipeline.geometry import InputFileError, geometries_to_bng
    from nrf_pipeline.sites import read_features

    frame, crs = read_features(path)
    if "PANS" not in frame.columns:
        raise InputFileError(f"{path.name}: the survey ponds have no PANS field (P, A or NS on every pond)")
    geometries, outside = geometries_to_bng(frame.geometry.values, crs)
    if outside.any():
        raise InputFileError(f"{path.name}: a survey pond lies outside the OSTN15 coverage")

    def column(name: str) -> list:
        values = frame[name] if name in frame.columns else [None] * len(frame)
        return [None if pd.isna(v) else str(v) for v in values]

    return [
        SurveyPond(geometry, pans, tmp_imp, pond_id)
        for geometry, pans, tmp_imp, pond_id in zip(geometries, column("PANS"), column("TmpImp"), column("pondId"))
    ]


def cmd_gcn(args: argparse.Namespace) -> int:
    """Read the sites (and survey ponds), assess them as one quote, write the four PSV tables."""
    from nrf_pipeline.cli.database import database
    from nrf_pipeline.errors import AssessmentError
    from nrf_pipeline.gcn.methods import get_method
    from nrf_pipeline.gcn.output import write_psv_tables
    from nrf_pipeline.gcn.reader import assess_gcn_for_site
    from nrf_pipeline.geometry import InputFileError
    from nrf_pipeline.reference import GCN_LAYERS, resolve_active_release
    from nrf_pipeline.settings import get_settings
    from nrf_pipeline.sites import read_sites

    settings = get_settings()
    try:
        method = get_method(args.method or settings.GCN_METHOD_VERSION)
    except AssessmentError as exc:
        return _fail(str(exc))
    try:
        # Dwellings do not matter to GCN; 0 only satisfies the site reader.
        sites, site_errors = read_sites(args.input, dwellings=0)
        survey_ponds = read_survey_ponds(args.survey_ponds) if args.survey_ponds else None
    except (InputFileError, OSError) as exc:
        return _fail(str(exc))
    if site_errors:
        for error in site_errors:
            print(f"nrf-pipeline: error: {error.message} [{error.code}]", file=sys.stderr)
        return 1
    # One quote whose sites are the file's rows, in order (G7); UniqueRef like upstream's run stamp.
    rows = [(site.geometry, site.id) for site in sites]
    unique_ref = args.unique_ref or datetime.now().strftime("%Y%m%d%H%M%S%f")

    try:
        with database(settings, args.reference_dir) as engine, engine.connect() as conn:
            release = resolve_active_release(conn, GCN_LAYERS)
            result = assess_gcn_for_site(conn, release, rows, unique_ref, survey_ponds, method)
    except AssessmentError as exc:
        return _fail(str(exc))

    if result is None:
        print(f"GCN not applicable (G9): the sites and their 250 m surroundings meet no EDP edge area "
              f"(reference data release {release.release_id}); no tables written", file=sys.stderr)
        return 0
    write_psv_tables(result, args.output_dir)
    flags = f", flags {', '.join(result.flags)}" if result.flags else ""
    print(
        f"{len(rows)} sites assessed, {result.route} route, under {method.name} against reference data release "
        f"{release.release_id}{flags}; wrote the four tables to {args.output_dir}",
        file=sys.stderr,
    )
    return 0


def register(assess_subcommands) -> None:
    """Add `gcn` to the subcommands of `nrf-pipeline assess`."""
    from nrf_pipeline.devstack.paths import DEFAULT_REFERENCE_DIR

    gcn = assess_subcommands.add_parser(
        "gcn",
        help="great crested newt impact (gcn-method.md) of the sites of a file, as one quote",
        description="Assess the sites of INPUT as one quote (each row one site) and write Habitat_Impact, "
        "Ponds_Impact_Frequency and their EDP split tables as PSV. With --survey-ponds the survey route "
        "is used, else the national ponds. Without a configured database (NRF_DATABASE_URL or DB_HOST) a "
        "local PostGIS is started with the reference data of --reference-dir and stopped afterwards.",
    )
    gcn.add_argument("input", type=Path, help="shapefile, GeoJSON file, zip, or a folder holding one")
    gcn.add_argument("--survey-ponds", type=Path,
                     help="survey ponds (shapefile or GeoJSON) with PANS and optional TmpImp, pondId")
    gcn.add_argument("--output-dir", "-o", type=Path, required=True, help="directory to write the PSV files to")
    gcn.add_argument("--method", choices=list(METHODS),
                     help="method version (default: GCN_METHOD_VERSION, else gcn-2025-11)")
    gcn.add_argument("--unique-ref", help="UniqueRef of the tables (default: a timestamp, as upstream)")
    gcn.add_argument("--reference-dir", type=Path, default=DEFAULT_REFERENCE_DIR,
                     help=f"reference set to load when no database is configured (default {DEFAULT_REFERENCE_DIR})")
    gcn.set_defaults(func=cmd_gcn)
