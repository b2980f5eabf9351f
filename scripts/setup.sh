#!/usr/bin/env bash
# Installs everything the pipeline and its tests need on a fresh Debian 12 machine (idempotent):
# PostgreSQL 15 + PostGIS 3, Java 17 and Node (for Liquibase), uv, the locked Python environment
# in .venv, and Liquibase 4.28 from the npm registry into tools/liquibase.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_packages=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || apt_packages+=(postgresql-15)
[ -e /usr/share/postgresql/15/extension/postgis.control ] || apt_packages+=(postgresql-15-postgis-3)
command -v java >/dev/null || apt_packages+=(openjdk-17-jre-headless)
command -v npm >/dev/null || apt_packages+=(nodejs npm)
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "setup: installing ${apt_packages[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
# --locked: fail if uv.lock is out of date with pyproject.toml instead of silently re-resolving.
python3 -m uv sync --locked --quiet

LIQUIBASE_JAR=tools/liquibase/node_modules/liquibase/dist/liquibase/internal/lib/liquibase-core.jar
if [ ! -f "$LIQUIBASE_JAR" ]; then
  # npm `liquibase` 4.28.1 ships the whole Liquibase 4.28.0 distribution (Maven Central is not reachable).
  npm install --prefix tools/liquibase --no-audit --no-fund --silent liquibase@4.28.1
fi
echo "setup: done (.venv, tools/liquibase)"
