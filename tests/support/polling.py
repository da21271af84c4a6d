"""Waiting in tests: poll a condition until a deadline, never sleep a fixed time."""

import time
from collections.abc import Callable
from typing import Any


def eventually(
    check: Callable[[], Any], what: str = "", timeout: float = 30, every: float = 0.2
) -> Any:
    """The first truthy result of `check`, or AssertionError (naming `what`) after `timeout`
    seconds."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, (
            f"{what or 'condition'}: still {result!r} after {timeout} s"
        )
        time.sleep(every)
    return result
