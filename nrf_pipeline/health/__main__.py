"""`python -m nrf_pipeline.health`: the /health server, as nrf_pipeline.main starts it.

Deliberately not through the `nrf-pipeline` CLI package, which imports the local-stack tooling.
"""

import argparse
import sys

from nrf_pipeline.health.command import add_arguments, run

parser = argparse.ArgumentParser(prog="python -m nrf_pipeline.health", description="serve GET /health")
add_arguments(parser)
sys.exit(run(parser.parse_args()))
