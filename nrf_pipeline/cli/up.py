"""`nrf-pipeline up`: the local stack with the Dagster webserver and daemon."""

from __future__ import annotations

import argparse
import signal
import threading



def wait_for_interrupt() -> None:
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()


def cmd_up(args: argparse.Namespace) -> int:
    """Local stack, schema, Dagster webserver and daemon; runs until Ctrl-C."""
    from nrf_pipeline.devstack import LocalStack
    from nrf_pipeline.devstack.dagster import DagsterProcesses

    with LocalStack() as stack:
        dagster = DagsterProcesses(stack.env(), webserver_port=args.port)
        try:
            dagster.start_daemon()
            dagster.start_webserver()
            print(f"PostGIS: {stack.postgres.sqlalchemy_url} (schema applied by Liquibase)")
            print(f"SQS queue: {stack.moto.queue_url}")
            print(f"Dagster UI: {dagster.url}")
            print("Press Ctrl-C to stop.", flush=True)
            wait_for_interrupt()
        finally:
            dagster.stop()
    print("Stopped.")
    return 0


def register(subcommands) -> None:
    parser = subcommands.add_parser("up", help="start the local stack and Dagster (webserver and daemon) until Ctrl-C")
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port (default 3000)")
    parser.set_defaults(func=cmd_up)
