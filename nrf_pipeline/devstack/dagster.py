"""The Dagster webserver and daemon as children of the local stack, against its PostgreSQL."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

from nrf_pipeline.devstack.errors import DevstackError
from nrf_pipeline.devstack.liquibase import REPO_ROOT
from nrf_pipeline.devstack.processes import ensure_port_free, free_port, spawn, stop, wait_until

INSTANCE_CONFIG = REPO_ROOT / "dagster.yaml"
WORKSPACE = REPO_ROOT / "workspace.yaml"


def _tool(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        raise DevstackError(f"{name} not found next to {sys.executable}: run scripts/setup.sh")
    return str(path)


class DagsterProcesses:
    """A DAGSTER_HOME with the repository's dagster.yaml, plus `dagster-webserver` and
    `dagster-daemon run` loading workspace.yaml (each starts its own code server)."""

    def __init__(self, env: dict[str, str], webserver_port: int | None = None, home: Path | None = None):
        self.home = home or Path(tempfile.mkdtemp(prefix="nrf-dagster-home-"))
        self.env = {**os.environ, **env, "DAGSTER_HOME": str(self.home)}
        self.webserver_port = webserver_port
        self.webserver = None
        self.daemon = None
        shutil.copy(INSTANCE_CONFIG, self.home / "dagster.yaml")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.webserver_port}"

    def start_webserver(self) -> None:
        if self.webserver:
            return
        if self.webserver_port is None:
            self.webserver_port = free_port()
        else:
            ensure_port_free(self.webserver_port, "the Dagster webserver")
        log = self.home / "webserver.log"
        self.webserver = spawn([_tool("dagster-webserver"), "-w", str(WORKSPACE), "-h", "127.0.0.1",
                                "-p", str(self.webserver_port)], log, env=self.env, cwd=REPO_ROOT)
        wait_until(self._webserver_answers, 120, "the Dagster webserver", log)

    def start_daemon(self) -> None:
        if self.daemon:
            return
        self.daemon = spawn([_tool("dagster-daemon"), "run", "-w", str(WORKSPACE)],
                            self.home / "daemon.log", env=self.env, cwd=REPO_ROOT)

    def stop_daemon(self) -> None:
        stop(self.daemon)
        self.daemon = None

    def stop(self) -> None:
        self.stop_daemon()
        stop(self.webserver)
        self.webserver = None

    def _webserver_answers(self) -> bool:
        if self.webserver.poll() is not None:
            raise DevstackError(f"the Dagster webserver exited; see {self.home / 'webserver.log'}")
        try:
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=2):
                return True
        except OSError:
            return False
