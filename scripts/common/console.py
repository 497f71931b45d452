"""The one way quickfit tells the user what it is doing (failures go through errors.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

_QUIET = [False]


def say(message: str) -> None:
    """One line of progress; only rank 0 of a multi-process run (make train NPROC=N) prints."""
    if os.environ.get("RANK", "0") == "0" and not _QUIET[0]:
        print(f"[quickfit] {message}", flush=True)


@contextmanager
def quiet() -> Iterator[None]:
    """No progress lines inside (a k-fold's per-fold plans repeat what the run's plan said)."""
    before, _QUIET[0] = _QUIET[0], True
    try:
        yield
    finally:
        _QUIET[0] = before
