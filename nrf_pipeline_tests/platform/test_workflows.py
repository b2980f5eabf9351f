"""The GitHub workflows publish in the order CDP needs, with the permissions it needs (platform.md §2.4)."""

from __future__ import annotations

import re

import yaml

from nrf_pipeline_tests.paths import REPO

WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def steps_using(workflow: dict) -> list[str]:
    return [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]


def test_publish_builds_then_publishes_migrations():
    workflow = load("publish.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["permissions"] == {"id-token": "write", "contents": "write"}
    assert workflow["env"] == {"AWS_ACCOUNT_ID": "094954420758", "AWS_REGION": "eu-west-2"}
    actions = [uses.split("@")[0] for uses in steps_using(workflow)]
    build = actions.index("DEFRA/cdp-build-action/build")
    migrations = actions.index("DEFRA/cdp-build-action/publish-db-migrations")
    assert build < migrations
    step = next(s for j in workflow["jobs"].values() for s in j["steps"] if "publish-db-migrations" in s.get("uses", ""))
    assert step["with"]["path"] == "./changelog"


def test_publish_db_schema_is_manual_and_forced():
    workflow = load("publish-db-schema.yml")
    assert "version" in workflow["on"]["workflow_dispatch"]["inputs"]
    assert workflow["permissions"] == {"id-token": "write", "contents": "read"}
    step = next(s for j in workflow["jobs"].values() for s in j["steps"] if "publish-db-migrations" in s.get("uses", ""))
    assert step["with"]["force"] == "true" and "inputs.version" in step["with"]["version"]


def test_pull_requests_run_the_tests_and_check_the_lock():
    workflow = load("check-pull-request.yml")
    commands = [s.get("run", "") for j in workflow["jobs"].values() for s in j["steps"]]
    assert "scripts/test.sh" in commands and "uv lock --check" in commands
    assert any("--target production" in c for c in commands), "the production image is built and run"


def test_every_action_is_pinned_to_a_commit_sha():
    for path in WORKFLOWS.glob("*.yml"):
        for uses in steps_using(load(path.name)):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), (path.name, uses)
