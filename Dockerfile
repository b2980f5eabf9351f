# nrf-impact-assessment-service (platform.md §4.1). Two targets of the same sources:
#   development  all dependency groups, plain-text logs; compose.yml runs it
#   production   what CDP runs: locked runtime dependencies only, ECS JSON logs, /health on $PORT
#
# Pinned to a full tag, never latest-*: a floating tag once moved to Debian 13 and broke the build.
# (Check the current tag of defradigital/python and defradigital/python-development before bumping.)
ARG PARENT_VERSION=2.10.2-python3.12.11
ARG PORT=8085

FROM defradigital/python-development:${PARENT_VERSION} AS development
ARG PORT

ENV PATH="/home/nonroot/.venv/bin:${PATH}" \
    UV_PROJECT_ENVIRONMENT=/home/nonroot/.venv \
    UV_LINK_MODE=copy \
    LOG_CONFIG=logging-dev.json \
    PORT=${PORT} \
    DAGSTER_HOME=/home/nonroot/dagster_home

USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    # uv exists only in this image: copy it to a known path for the production stage to mount.
    && install -m 0755 "$(command -v uv)" /opt/uv
USER nonroot
WORKDIR /home/nonroot

# Dependencies in their own layer: rebuilt only when pyproject.toml or uv.lock change.
COPY --chown=nonroot:nonroot pyproject.toml uv.lock ./
RUN uv sync --locked --no-install-project

COPY --chown=nonroot:nonroot README.md workspace.yaml logging.json logging-dev.json ./
COPY --chown=nonroot:nonroot nrf_pipeline/ ./nrf_pipeline/
RUN uv sync --locked \
    && mkdir -p "${DAGSTER_HOME}"
# Local instance (Postgres from the DB_* variables, no IAM); compose uses this target.
COPY --chown=nonroot:nonroot dagster.yaml ${DAGSTER_HOME}/dagster.yaml

EXPOSE ${PORT}
CMD ["-m", "nrf_pipeline.main"]


FROM defradigital/python:${PARENT_VERSION} AS production
ARG PORT

ENV PATH="/home/nonroot/.venv/bin:${PATH}" \
    UV_PROJECT_ENVIRONMENT=/home/nonroot/.venv \
    UV_LINK_MODE=copy \
    LOG_CONFIG=logging.json \
    PORT=${PORT} \
    DAGSTER_HOME=/home/nonroot/dagster_home

# curl: CDP's health check runs it inside the container. No psql: nothing shells out to it. The
# geospatial wheels (shapely, pyproj, pyogrio) bundle GEOS, PROJ and GDAL.
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
USER nonroot
WORKDIR /home/nonroot

COPY --chown=nonroot:nonroot pyproject.toml uv.lock ./
RUN --mount=type=bind,from=development,source=/opt/uv,target=/usr/local/bin/uv \
    uv sync --locked --compile-bytecode --no-dev --no-install-project

COPY --chown=nonroot:nonroot README.md workspace.yaml logging.json ./
COPY --chown=nonroot:nonroot nrf_pipeline/ ./nrf_pipeline/
RUN --mount=type=bind,from=development,source=/opt/uv,target=/usr/local/bin/uv \
    uv sync --locked --compile-bytecode --no-dev \
    && mkdir -p "${DAGSTER_HOME}"
# CDP instance: RDS with IAM tokens and TLS, Dagster's tables in schema `dagster`.
COPY --chown=nonroot:nonroot deploy/dagster.cdp.yaml ${DAGSTER_HOME}/dagster.yaml

EXPOSE ${PORT}
# Dagster writes heartbeats about every 30 s: /health is 503 for the first 30-60 s (start period).
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD curl -fsS "http://localhost:${PORT}/health" > /dev/null || exit 1
# The base image's entry point is `python`. Second entry point (operators, not on CDP):
#   docker run ... --entrypoint dagster-webserver <image> -w workspace.yaml -h 0.0.0.0 -p 3000
CMD ["-m", "nrf_pipeline.main"]
