"""The container's supervisor: signals first, proxy rules, SIGTERM forwarded, non-zero when a child dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from nrf_pipeline.main import apply_proxy_rules, mask_url

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def supervisor(children: dict[str, list[str]]) -> subprocess.Popen:
    code = f"import sys; from nrf_pipeline.main import main; sys.exit(main({children!r}))"
    return subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "LOG_CONFIG": "logging-dev.json"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sigterm_stops_both_children_and_exits_zero():
    process = supervisor({"a": SLEEPER, "b": SLEEPER})
    time.sleep(2)  # both children started
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert time.monotonic() - started < 5
    output = process.stdout.read()
    assert "started a" in output and "started b" in output and "stop requested" in output


def test_a_dead_child_stops_the_task_with_a_non_zero_code():
    process = supervisor({"a": SLEEPER, "b": [sys.executable, "-c", "raise SystemExit(0)"]})
    assert process.wait(timeout=30) == 1  # even a child exiting 0 is a failure of the task
    assert "b exited with code 0" in process.stdout.read()


def test_proxy_rules():
    env = {"HTTP_PROXY": "http://user:pass@proxy.cdp:3128"}
    apply_proxy_rules(env)
    assert env["HTTPS_PROXY"] == "http://user:pass@proxy.cdp:3128"

    env = {"HTTP_PROXY": "None", "HTTPS_PROXY": ""}
    apply_proxy_rules(env)
    assert env == {}  # unset stays unset, never the string "None"

    env = {"HTTP_PROXY": "http://a:3128", "HTTPS_PROXY": "http://b:3128"}
    apply_proxy_rules(env)
    assert env["HTTPS_PROXY"] == "http://b:3128"


def test_proxy_credentials_masked():
    assert mask_url("http://user:p%40ss@proxy.cdp:3128") == "http://***@proxy.cdp:3128"
    assert mask_url("http://proxy.cdp:3128") == "http://proxy.cdp:3128"
