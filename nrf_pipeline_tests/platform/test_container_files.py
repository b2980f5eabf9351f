"""Dockerfile, compose.yml and compose/ agree with each other and with nrf_pipeline.settings.

`docker` cannot run here: the files are parsed and checked against the settings the code reads.
"""

from __future__ import annotations

import re

import pytest
import yaml

from nrf_pipeline.settings import Settings
from nrf_pipeline_tests.paths import REPO as REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((REPO_ROOT / "compose.yml").read_text())
APP_SERVICES = ["nrf-impact-assessment-service", "dagster-webserver"]
# Settings without a default that a local run does not need: an override, the RDS CA (TLS off
# locally), the reference-data import directory (a CLI option) and LOG_CONFIG (set by the image).
NOT_NEEDED_LOCALLY = {"NRF_DATABASE_URL", "TRUSTSTORE_RDS_ROOT_CA", "REFERENCE_SOURCE_DIR", "LOG_CONFIG"}


def env_file(path: str) -> dict[str, str]:
    lines = (REPO_ROOT / path).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def service_env(name: str) -> dict[str, str]:
    """A service's environment as compose builds it (secrets.env from its tracked example)."""
    service = COMPOSE["services"][name]
    env: dict[str, str] = {}
    for path in service.get("env_file", []):
        env |= env_file(path.replace("secrets.env", "secrets.env.example"))
    return env | {key: str(value) for key, value in service.get("environment", {}).items()}


def stage(name: str) -> str:
    return re.search(rf"^FROM .* AS {name}$(.*?)(?=^FROM |\Z)", DOCKERFILE, re.M | re.S).group(1)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_compose_sets_every_setting_without_a_default(service):
    required = {name for name, field in Settings.model_fields.items() if field.default is None} - NOT_NEEDED_LOCALLY
    env = service_env(service)
    assert required - env.keys() == set()
    Settings(**env)  # and every value parses


def test_compose_secrets_are_untracked_with_an_example():
    assert "secrets.env" in (REPO_ROOT / "compose/.gitignore").read_text().split()
    assert {"BACKEND_API_KEY", "NOTIFY_API_KEY", "DB_LOCAL_PASSWORD"} <= env_file("compose/secrets.env.example").keys()


def test_ports_and_health_checks_agree():
    port = Settings.model_fields["PORT"].default
    assert port == 8085
    assert re.search(rf"^ARG PORT={port}$", DOCKERFILE, re.M)
    app = COMPOSE["services"]["nrf-impact-assessment-service"]
    assert service_env("nrf-impact-assessment-service")["PORT"] == str(port)
    assert f"{port}:{port}" in app["ports"]
    assert f"localhost:{port}/health" in " ".join(app["healthcheck"]["test"])
    assert re.search(r'^HEALTHCHECK .*\n?.*curl -fsS "http://localhost:\$\{PORT\}/health"', stage("production"), re.M)
    assert "EXPOSE ${PORT}" in stage("production")


def test_production_stage_follows_the_platform():
    production = stage("production")
    assert re.search(r"^ARG PARENT_VERSION=\d+\.\d+\.\d+-python3\.1[2-4]\.\d+$", DOCKERFILE, re.M), "pin a full tag"
    assert not [line for line in DOCKERFILE.splitlines() if "latest" in line and not line.startswith("#")]
    assert re.search(r"^FROM defradigital/python-development:\$\{PARENT_VERSION\} AS development$", DOCKERFILE, re.M)
    assert re.search(r"^FROM defradigital/python:\$\{PARENT_VERSION\} AS production$", DOCKERFILE, re.M)
    assert "uv sync --locked --compile-bytecode --no-dev" in production
    assert "uv sync --locked --no-install-project" in stage("development")
    assert re.search(r"apt-get install -y --no-install-recommends curl", production)
    users = re.findall(r"^USER (\w+)$", production, re.M)
    assert users == ["root", "nonroot"], "root only for apt-get, then back to nonroot"
    assert "ENV" in production and "LOG_CONFIG=logging.json" in production and "PORT=${PORT}" in production
    assert "DAGSTER_HOME=/home/nonroot/" in production
    assert 'CMD ["-m", "nrf_pipeline.main"]' in production
    # Every file the production image copies exists (logging.json, the CDP instance, ...).
    for sources in re.findall(r"^COPY --chown=\S+ (.+) \S+$", production, re.M):
        for source in sources.split():
            assert (REPO_ROOT / source).exists(), source


def test_compose_waits_for_migrations_and_localstack_init():
    depends = COMPOSE["services"]["nrf-impact-assessment-service"]["depends_on"]
    assert depends["liquibase"]["condition"] == "service_completed_successfully"
    assert depends["localstack"]["condition"] == "service_healthy"
    assert "init/ready" in " ".join(COMPOSE["services"]["localstack"]["healthcheck"]["test"])
    assert COMPOSE["services"]["postgis"]["image"] == "postgis/postgis:16-3.4"
    liquibase = COMPOSE["services"]["liquibase"]
    assert liquibase["image"] == "liquibase/liquibase:4.27"
    assert "--changelog-file=changelog/db.changelog.xml" in liquibase["command"]
    init = (REPO_ROOT / "compose/localstack/init-aws.sh").read_text()
    assert "RedrivePolicy" in init and "nrf-impact-assessment-requests" in service_env(APP_SERVICES[0])["SQS_QUEUE_URL"]


def test_stubs_run_from_the_app_image():
    for name, module in [("backend-stub", "backend_stub"), ("notify-fake", "notify_fake")]:
        service = COMPOSE["services"][name]
        assert service["build"]["context"] == "."
        assert service["command"][:2] == ["-m", f"nrf_pipeline.devstack.{module}"]
        port = service["command"][service["command"].index("--port") + 1]
        assert f":{port}" in service_env("nrf-impact-assessment-service")["BACKEND_URL" if name == "backend-stub" else "NOTIFY_BASE_URL"]
