"""The one way quickfit tells the user what it is doing (failures go through errors.py)."""

from __future__ import annotations


def say(message: str) -> None:
    print(f"[quickfit] {message}", flush=True)
