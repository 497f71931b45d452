"""How the card tells a reader to reproduce the run: the config with this machine's paths cut to their last
part, and the `make train` command with the overrides that differ from config.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.common import settings

PATH_KEYS = ("dataset", "model_name", "outputs_dir")


def public_config(flat: dict[str, Any]) -> dict[str, Any]:
    """The config as the card may show it: a path of this machine becomes its last part (a Hub id stays)."""

    def public(value: Any) -> Any:
        local = isinstance(value, str) and (
            value.startswith(("/", ".", "~")) or Path(value).expanduser().exists()
        )
        return Path(value).name if local else value

    return {k: public(v) if k in PATH_KEYS else v for k, v in flat.items()}


def reproduce_command(flat: dict[str, Any]) -> str:
    """`make train` with the overrides that differ from config.py's defaults (plus the full config below)."""
    changed = settings.changed_from_defaults(flat)
    data = changed.pop("dataset", None)
    parts = ["make train"] + ([f"DATA={data}"] if data else [])
    if changed:
        parts.append(
            'SET="'
            + " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in changed.items())
            + '"'
        )
    return " ".join(parts)
