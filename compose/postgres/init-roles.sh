#!/usr/bin/env bash
# The roles of CDP (platform.md §2.2): the DDL role owns the schema (Liquibase), the app role logs in
# and has only the grants the changelog gives it. Runs once, when the data volume is created.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -v app_password="$DB_LOCAL_PASSWORD" <<'SQL'
CREATE ROLE nrf_impact_assessment_service_ddl NOLOGIN;
CREATE ROLE nrf_impact_assessment_service LOGIN PASSWORD :'app_password';
SQL
