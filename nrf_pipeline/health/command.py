"""The options shared by `python -m nrf_pipeline.health` and `nrf-pipeline health`."""

from __future__ import annotations

import argparse
import json

from nrf_pipeline.intake import SQS_SENSOR_NAME


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true",
                        help="print the report as JSON and exit (0 when healthy, 1 otherwise) instead of serving")
    parser.add_argument("--no-sensor-check", action="store_true",
                        help=f"leave out the check of the sensor {SQS_SENSOR_NAME} (for a code location without it)")


def run(args: argparse.Namespace) -> int:
    # Imported here so that every other `nrf-pipeline` command starts without loading Dagster.
    from nrf_pipeline.health.server import HealthCache, serve
    from nrf_pipeline.logging_setup import configure_logging
    from nrf_pipeline.settings import Settings

    configure_logging()
    settings = Settings()
    sensor_name = None if args.no_sensor_check else SQS_SENSOR_NAME
    if args.once:
        report = HealthCache(settings, sensor_name).refresh()
        print(json.dumps(report.body, allow_nan=False, indent=2))
        return 0 if report.ok else 1
    serve(settings, sensor_name)
    return 0
