"""`nrf-pipeline demo`: the whole journey on the local stack.

Stack up (PostGIS, Liquibase, moto SQS, the nrf-backend stub, the Notify fake), reference data
loaded and activated, a sample quote created in the backend stub, the trigger message sent; the
Dagster daemon's SQS sensor starts the run, which PATCHes the result back. Prints the PATCHed body
and the run's link in the Dagster UI, then stays up until Ctrl-C (or exits with --exit-after-first).
"""

from __future__ import annotations

import argparse
import json
import time

from nrf_pipeline.cli.up import wait_for_interrupt
from nrf_pipeline.devstack import DevstackError
from nrf_pipeline.devstack.paths import DEFAULT_REFERENCE_DIR, SAMPLE_SITE

SAMPLE_REFERENCE = "NRL-000001"
# Tick often and poll briefly: on this stack an assessment should be back in seconds.
FAST_SENSOR = {"SQS_SENSOR_INTERVAL_SECONDS": "1", "SQS_WAIT_TIME_SECONDS": "1"}


def sample_quote(reference: str = SAMPLE_REFERENCE) -> dict:
    """A quote for the BnW_small site (1 dwelling, River Wensum SAC), boundary in BNG as the backend stores it."""
    import shapely.geometry

    from nrf_pipeline.sites import read_sites

    sites, _ = read_sites(SAMPLE_SITE)
    return {
        "reference": reference,
        "boundaryGeojson": {"boundaryGeometryOriginal": shapely.geometry.mapping(sites[0].geometry)},
        "developmentTypes": ["housing"],
        "housingUnits": 1,
        "email": "applicant@example.com",
    }


def send_trigger(stack, reference: str, trace_id: str | None = None) -> str:
    body = {"reference": reference, **({"traceId": trace_id} if trace_id else {})}
    return stack.moto.client("sqs").send_message(QueueUrl=stack.moto.queue_url, MessageBody=json.dumps(body))["MessageId"]


def wait_for_results(stack, reference: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        results = stack.backend.control().results(reference)
        if results is not None:
            return results
        time.sleep(0.2)
    raise DevstackError(f"no results PATCHed for {reference} within {timeout:.0f} s; see the daemon log")


def cmd_demo(args: argparse.Namespace) -> int:
    from nrf_pipeline.db.engine import create_engine
    from nrf_pipeline.devstack import LocalStack
    from nrf_pipeline.devstack.dagster import DagsterProcesses
    from nrf_pipeline.reference import load_reference_set
    from nrf_pipeline.settings import Settings

    with LocalStack(backend=True, notify=True) as stack:
        engine = create_engine(Settings(**stack.env()))  # loads run as the app role, as on CDP
        release_id = load_reference_set(engine, args.reference_dir, label="demo")
        engine.dispose()
        print(f"Reference data release {release_id} loaded from {args.reference_dir} and activated.")
        dagster = DagsterProcesses({**stack.env(), **FAST_SENSOR}, webserver_port=None if args.exit_after_first else args.port)
        try:
            dagster.start_daemon()
            if not args.exit_after_first:
                dagster.start_webserver()
            stack.backend.control().put_quote(sample_quote())
            sent = time.monotonic()
            message_id = send_trigger(stack, SAMPLE_REFERENCE, trace_id="demo-trace-0001")
            print(f"Sent the trigger for {SAMPLE_REFERENCE} (SQS message {message_id}); waiting for the PATCH…", flush=True)
            body = wait_for_results(stack, SAMPLE_REFERENCE, args.timeout)
            print(f"PATCH /quotes/{SAMPLE_REFERENCE} received after {time.monotonic() - sent:.1f} s:")
            print(json.dumps(body, indent=2))
            if args.exit_after_first:
                return 0
            print(f"Dagster UI: {dagster.url}/runs/{body['provenance']['pipelineRunId']}")
            print("Send more with the AWS CLI or boto3 to the queue above. Press Ctrl-C to stop.", flush=True)
            wait_for_interrupt()
        finally:
            dagster.stop()
    return 0


def register(subcommands) -> None:
    parser = subcommands.add_parser("demo", help="run one assessment end to end on the local stack")
    parser.add_argument("--exit-after-first", action="store_true",
                        help="print the PATCHed body, stop everything and exit 0 (a smoke test)")
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port (default 3000)")
    parser.add_argument("--reference-dir", default=str(DEFAULT_REFERENCE_DIR), help="reference data to load")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the PATCH")
    parser.set_defaults(func=cmd_demo)
