#!/usr/bin/env bash
# The test command: installs everything, then runs the whole suite. The tests start (and stop) every
# service they use: PostgreSQL+PostGIS, Liquibase, moto, the Dagster daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/pytest "$@"
