"""Retry with exponential backoff, shared by the nrf-backend client and the Notify sender.

contracts.md §3.2 and §4.4: a transient failure is retried at most `max_retries` times after the
first attempt, waiting 1 s, 2 s, 4 s (doubling) in between. The caller decides what is transient by
raising `Transient` from its attempt; anything else ends the attempts at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Transient(Exception):
    """An attempt failed in a way worth another try; `reason` is short fixed text for logs."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def backoff_seconds(retry: int) -> float:
    """Wait before retry number `retry` (1-based): 1, 2, 4, ... seconds."""
    return float(2 ** (retry - 1))


def with_retries(
    attempt: Callable[[int], T], max_retries: int, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Call `attempt(n)` for n = 1, 2, ... until it returns; re-raise the last `Transient` when
    `max_retries` retries are used up. `sleep` is injectable so that tests need not wait."""
    number = 1
    while True:
        try:
            return attempt(number)
        except Transient:
            if number > max_retries:
                raise
        sleep(backoff_seconds(number))
        number += 1
