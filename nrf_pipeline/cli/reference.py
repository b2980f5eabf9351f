"""`nrf-pipeline reference …`: load the whole reference set, roll back, show what is active."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from nrf_pipeline.settings import Settings

if TYPE_CHECKING:
    import sqlalchemy as sa


def _engine():
    from nrf_pipeline.cli.database import database

    return database(Settings())


def cmd_load_all(args: argparse.Namespace) -> int:
    from nrf_pipeline.reference import ReferenceDataError, ReleaseError, load_reference_set

    source_dir = args.source_dir or Settings().REFERENCE_SOURCE_DIR
    if not source_dir:
        print("nrf-pipeline: give --source-dir or set REFERENCE_SOURCE_DIR", file=sys.stderr)
        return 2
    with _engine() as engine:
        try:
            release_id = load_reference_set(engine, source_dir, run_id="cli", label=args.label)
        except (ReferenceDataError, ReleaseError) as exc:
            print(f"nrf-pipeline: {exc}", file=sys.stderr)
            return 1
        print(f"active release: {release_id}")
        _print_status(engine)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from nrf_pipeline.reference import ReleaseError, releases

    with _engine() as engine:
        try:
            target = releases.rollback(engine, args.reason, to_release_id=args.to, activated_by="cli")
        except ReleaseError as exc:
            print(f"nrf-pipeline: {exc}", file=sys.stderr)
            return 1
        print(f"rolled back to release {target}")
        _print_status(engine)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _engine() as engine:
        _print_status(engine)
    return 0


def _print_status(engine: sa.Engine) -> None:
    from nrf_pipeline.reference import releases

    with engine.connect() as conn:
        state = releases.describe(conn)
    if state["active_release_id"] is None:
        print("no release is active")
        return
    print(f"active release {state['active_release_id']}:")
    for m in state["members"]:
        print(f"  {m['layer']:20s} v{m['version']:<4d} {m['row_count']:>9,d} rows  QC {m['qc_status']:6s} "
              f"sha256 {m['source_sha256'][:12]}  {m['source_uri']}")
    print("latest activations:")
    for a in state["activations"]:
        print(f"  #{a['activation_id']} {a['activated_at']:%Y-%m-%d %H:%M:%S} {a['action']:8s} release {a['release_id']} "
              f"(was {a['previous_release_id']}) by {a['activated_by']}: {a['reason'] or ''}")


def register(subcommands) -> None:
    parser = subcommands.add_parser("reference", help="reference data: load the whole set, roll back, status")
    commands = parser.add_subparsers(dest="reference_command", required=True)
    load_all = commands.add_parser("load-all", help="load, check, release and activate every layer of a reference set")
    load_all.add_argument("--source-dir", help="directory or s3:// prefix of the set (default: REFERENCE_SOURCE_DIR)")
    load_all.add_argument("--label", help="release label (unique)")
    load_all.set_defaults(func=cmd_load_all)
    rollback = commands.add_parser("rollback", help="activate an earlier release again")
    rollback.add_argument("--to", type=int, help="release id (default: the previously active release)")
    rollback.add_argument("--reason", required=True)
    rollback.set_defaults(func=cmd_rollback)
    status = commands.add_parser("status", help="the active release and the latest activations")
    status.set_defaults(func=cmd_status)
