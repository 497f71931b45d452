"""The one way quickfit tells the user what it is doing (failures go through errors.py)."""

from __future__ import annotations

import os


def say(message: str) -> None:
    """One line of progress; only rank 0 of a multi-process run (make train NPROC=N) prints."""
    if os.environ.get("RANK", "0") == "0":
        print(f"[quickfit] {message}", flush=True)
