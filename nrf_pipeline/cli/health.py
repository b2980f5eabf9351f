"""`nrf-pipeline health`: the /health server (or, with --once, one report on stdout)."""

from __future__ import annotations

from nrf_pipeline.health.command import add_arguments, run


def register(subcommands) -> None:
    parser = subcommands.add_parser("health", help="serve GET /health from the Dagster instance storage on HOST:PORT")
    add_arguments(parser)
    parser.set_defaults(func=run)
