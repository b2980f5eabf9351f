"""Run real Liquibase (the jars of the npm package `liquibase`, on the machine's Java 17)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nrf_pipeline.devstack.errors import DevstackError

from nrf_pipeline.devstack.paths import REPO_ROOT
LIB = REPO_ROOT / "tools/liquibase/node_modules/liquibase/dist/liquibase/internal/lib"
# The open-source class path; without the commercial jar Liquibase only warns about licensing.
JARS = ("liquibase-core", "picocli", "snakeyaml", "opencsv", "commons-lang3", "commons-text", "commons-io",
        "commons-collections4", "postgresql")
CHANGELOG = "changelog/db.changelog.xml"


@dataclass(frozen=True)
class Liquibase:
    """Liquibase against one database; always run from the repository root with the root-relative
    changelog path, because the path is part of every changeset's identity."""

    jdbc_url: str
    username: str
    password: str = ""

    def update(self) -> str:
        return self.run("update")

    def rollback_count(self, count: int) -> str:
        return self.run("rollback-count", f"--count={count}")

    def status(self) -> str:
        return self.run("status", "--verbose")

    def validate(self) -> str:
        return self.run("validate")

    def run(self, *command: str) -> str:
        java = _java()
        missing = [jar for jar in JARS if not (LIB / f"{jar}.jar").exists()]
        if missing:
            raise DevstackError(
                f"Liquibase jars not found in {LIB}: run scripts/setup.sh "
                "(it runs `npm install --prefix tools/liquibase liquibase@4.28.1`)"
            )
        args = [
            java, "-cp", os.pathsep.join(str(LIB / f"{jar}.jar") for jar in JARS),
            "liquibase.integration.commandline.LiquibaseCommandLine",
            "--show-banner=false", "--log-level=WARNING",
            f"--changelog-file={CHANGELOG}", f"--url={self.jdbc_url}",
            f"--username={self.username}", f"--password={self.password}",
            *command,
        ]
        result = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DevstackError(f"liquibase {command[0]} failed:\n{result.stdout}\n{result.stderr}".strip())
        return result.stdout


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin/java") if home and (Path(home) / "bin/java").exists() else shutil.which("java")
    if not java:
        raise DevstackError("Java not found: Liquibase needs Java 17 (apt-get install openjdk-17-jre-headless), "
                            "or set JAVA_HOME")
    return java
