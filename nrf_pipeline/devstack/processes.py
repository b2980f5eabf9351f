"""Small helpers for the services of the local stack: free ports and child processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from nrf_pipeline.devstack.errors import DevstackError


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_port_free(port: int, what: str) -> None:
    """Fail fast, naming the port, instead of letting a server die with a bind error later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise DevstackError(
                f"port {port} for {what} is already in use on 127.0.0.1: stop the process that holds it "
                "or choose another port"
            ) from None


def _default_signals() -> None:
    # A shell that starts us in the background ignores SIGINT, and children inherit ignored
    # signals (Dagster then ignores SIGTERM too); restore the defaults so they can be stopped.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Start a long-running child in its own process group, output to `log`."""
    handle = open(log, "ab")  # noqa: SIM115 - the child owns it for its lifetime
    return subprocess.Popen(
        args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
        preexec_fn=_default_signals, start_new_session=True,
    )


def stop(process: subprocess.Popen | None, timeout: float = 15.0) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it does not go in time."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    """Poll `check` until it is true; on time-out raise with the tail of the service's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise DevstackError(f"{what} did not become ready within {timeout:.0f} s{tail}")
