"""Runtime set-up shared by training and inference: quiet libraries, CPU threads, seeds, device, precision.

Nothing here imports Simple Transformers; torch is imported inside the functions that need it.
"""

from __future__ import annotations

import os
import random
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from scripts.common.errors import UserError

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
QUIETED: set[str] = set()  # the variables quiet_environment set (the user had not)


def quiet_environment() -> None:
    """Silence progress bars and telemetry that Simple Transformers and its neighbours turn on."""
    for key, value in {
        "TOKENIZERS_PARALLELISM": "false",
        "WANDB_MODE": "disabled",
        "WANDB_SILENT": "true",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }.items():
        if key not in os.environ:
            os.environ[key] = value
            QUIETED.add(key)


def physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


def set_threads(threads: Any) -> int:
    import torch

    # auto: the machine's cores shared by the training processes on it (torchrun sets LOCAL_WORLD_SIZE)
    local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    n = max(1, physical_cores() // local_ranks) if threads == "auto" else int(threads)
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> None:
    """Simple Transformers' manual_seed is not applied on every path: seed python, numpy and torch."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def device() -> Any:
    """The GPU when there is one (training, evaluation, prediction, the app and the push check alike)."""
    import torch

    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def resolve_precision(setting: str) -> tuple[str, str]:
    """precision: auto -> bf16 where the GPU supports it, else fp16, else fp32 on the CPU; with the reason.
    Master weights stay fp32 in every case: only the forward pass runs in half precision."""
    import torch

    cuda = torch.cuda.is_available()
    if setting == "auto":
        if not cuda:
            return "fp32", "no CUDA GPU: fp32 on the CPU"
        if torch.cuda.is_bf16_supported():
            return (
                "bf16",
                f"{gpu_name()} supports bf16: bf16 autocast over fp32 weights (no loss scaling needed)",
            )
        return "fp16", f"{gpu_name()} has no bf16: fp16 autocast with a gradient scaler over fp32 weights"
    if setting in ("fp16", "bf16") and not cuda:
        raise UserError(
            f"precision={setting} needs a CUDA GPU and none is visible; use precision=auto or fp32"
        )
    if setting == "bf16" and not torch.cuda.is_bf16_supported():
        raise UserError(f"precision=bf16: {gpu_name()} does not support bf16; use precision=auto or fp16")
    return setting, "set in the config"


def bf16_autocast(precision: str) -> AbstractContextManager:
    """bf16 autocast on CUDA (Simple Transformers itself only knows fp16); nothing otherwise."""
    import torch

    return torch.autocast("cuda", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
