"""The `nrf-pipeline` command: one module per subcommand group, registered here."""

from __future__ import annotations

import argparse
import sys

from nrf_pipeline.cli import assess, demo, health, reference, up
from nrf_pipeline.devstack import DevstackError

# Each module has `register(subcommands)`, which adds its parsers with `func` defaults.
COMMAND_MODULES = [up, demo, health, reference, assess]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nrf-pipeline", description="NRF impact assessment pipeline")
    subcommands = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DevstackError as exc:
        print(f"nrf-pipeline: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
