"""Waiting for real processes (workers, appliances, scans) in tests and benchmarks."""

import time


def wait_for(predicate, *, timeout: float, what: str, every: float = 0.1):
    """Polls ``predicate`` until it returns something true, and returns that.

    It is asked once more after the deadline, so a slow machine that got there
    just in time does not fail; then AssertionError names ``what``.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)
