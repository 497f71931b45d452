"""What a run records about where it ran: versions and hardware (no heavy imports)."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from importlib import metadata
from typing import Any

PACKAGES = (
    "simpletransformers",
    "transformers",
    "torch",
    "tokenizers",
    "datasets",
    "scikit-learn",
    "imbalanced-learn",
    "huggingface_hub",
    "pandas",
    "numpy",
)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def hardware() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    if "torch" in sys.modules:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def command_line() -> str:
    """The command as typed, with any secret-looking argument masked."""
    words = [
        w if not any(s in w.lower() for s in ("token", "key=", "password")) else w.split("=")[0] + "=***"
        for w in sys.argv
    ]
    return shlex.join(
        ["python", "-m", "scripts." + os.path.basename(words[0]).removesuffix(".py")] + words[1:]
    )


def bench_command(module: str, argv: list[str]) -> str:
    """A benchmark's command as its page records it: paths under the project written relative to its root,
    so the page holds no one machine's folders."""
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2]) + os.sep
    return shlex.join(["python", "-m", module, *(a.replace(root, "") for a in argv)])
