"""The production container's entry point (`CMD ["-m", "nrf_pipeline.main"]`, platform.md §4.2).

A supervisor as PID 1 with two children: `dagster-daemon run` (which starts the code server, which
launches runs) and the /health server. SIGTERM is forwarded to both; when either child dies the
supervisor stops the other and exits non-zero, so ECS replaces the task.

The Dagster webserver is a second entry point of the same image, not run here (CDP gives one port):
    dagster-webserver -w workspace.yaml -h 0.0.0.0 -p 3000
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger("nrf_pipeline.main")

# ECS stopTimeout is 30 s by default: leave a margin to SIGKILL what did not stop.
STOP_GRACE_SECONDS = 25.0
POLL_SECONDS = 0.5

_stop_requested = threading.Event()


def _request_stop(signum: int, _frame) -> None:
    _stop_requested.set()


def mask_url(url: str) -> str:
    """The URL without the password of its user-info (proxy URLs can carry credentials)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def apply_proxy_rules(environ: dict[str, str] | os._Environ) -> None:
    """platform.md §4.5: HTTPS_PROXY defaults to HTTP_PROXY; an unset proxy stays unset."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY"):
        # An empty value or the string "None" (a templating slip) is no proxy, and would break clients.
        if environ.get(name, "").strip() in ("", "None"):
            environ.pop(name, None)
    if "HTTP_PROXY" in environ and "HTTPS_PROXY" not in environ:
        environ["HTTPS_PROXY"] = environ["HTTP_PROXY"]
    for name in ("HTTP_PROXY", "HTTPS_PROXY"):
        log.info("%s: %s", name, mask_url(environ[name]) if name in environ else "not set")


def _children() -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent  # the virtual environment's scripts sit next to its python
    return {
        "dagster-daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml", "--log-format", "json"],
        "health": [sys.executable, "-m", "nrf_pipeline.health"],
    }


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("%s did not stop within %.0f s: killing its process group", name, STOP_GRACE_SECONDS)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def supervise(commands: dict[str, list[str]]) -> int:
    """Run the commands until a stop is requested (exit 0) or one of them exits (exit non-zero)."""
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, args in commands.items():
            if _stop_requested.is_set():  # a SIGTERM during start-up is honoured, not lost
                break
            # Own process group: a final SIGKILL then also reaches the code server and run workers.
            processes[name] = subprocess.Popen(args, process_group=0)
            log.info("started %s (pid %d)", name, processes[name].pid)
        while not _stop_requested.wait(POLL_SECONDS):
            for name, process in processes.items():
                if process.poll() is not None:
                    log.error("%s exited with code %s: stopping the task", name, process.returncode)
                    # Killed by a signal (negative code) or exited 0: still a failure of the task.
                    return process.returncode if process.returncode > 0 else 1
        log.info("stop requested: stopping %s", ", ".join(processes) or "nothing")
        return 0
    finally:
        _stop_all(processes)


def main(commands: dict[str, list[str]] | None = None) -> int:
    # First thing, before any import that may touch the network: ECS may stop the task at once.
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)

    from nrf_pipeline.logging_setup import configure_logging

    configure_logging()
    apply_proxy_rules(os.environ)
    return supervise(commands or _children())


if __name__ == "__main__":
    sys.exit(main())
