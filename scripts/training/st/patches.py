"""Patches around Simple Transformers' training loop, each the code to delete when the pinned version fixes
what it works around (tests/test_st_workarounds.py fails when the upstream behaviour changes):
  * resume: it restores weights but restarts the optimizer, LR schedule and fp16 gradient scaler;
    it numbers a resumed run's epochs from 1 again;
  * checkpoint states are read without unpickling (weights_only=True), onto whatever device is here;
  * fused AdamW (it builds the slower for-loop implementation);
  * bf16 logits handed back as fp32 (it turns them into numpy arrays; it has fp16 only).
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scripts.common.errors import UserError

VALIDATION_OUTPUTS = "validation_outputs.npy"
SCALER_STATE = "scaler.json"

# Set by the SIGTERM/SIGINT handler; checked before every batch so an interrupt cannot be lost.
STOP = threading.Event()


def load_state(path: Path) -> Any:
    """A checkpoint's optimizer or scheduler state: plain tensors and numbers only (a pickle that would run
    code is refused), mapped onto this machine's device so a GPU run resumes on a CPU and back."""
    import pickle

    import torch

    from scripts.common.runtime import device

    try:
        return torch.load(path, weights_only=True, map_location=device())
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as exc:
        raise UserError(
            f"{path} is not a plain tensor checkpoint file (refused to unpickle it: "
            f"{str(exc).splitlines()[0][:120]}); delete that run folder and train again"
        ) from exc


@contextmanager
def restored_optimizer(checkpoint: Path) -> Iterator[None]:
    """Simple Transformers resumes weights from a checkpoint but restarts the optimizer and the LR
    schedule; load both from the checkpoint when the scheduler is built, so a resumed run continues
    exactly where it stopped."""
    from simpletransformers.classification import classification_model as st_module

    original = st_module.get_linear_schedule_with_warmup

    def restoring(optimizer, *args, **kwargs):
        scheduler = original(optimizer, *args, **kwargs)
        optimizer.load_state_dict(load_state(checkpoint / "optimizer.pt"))
        scheduler.load_state_dict(load_state(checkpoint / "scheduler.pt"))
        return scheduler

    st_module.get_linear_schedule_with_warmup = restoring
    try:
        yield
    finally:
        st_module.get_linear_schedule_with_warmup = original


@contextmanager
def stretched_schedule(factor: float) -> Iterator[None]:
    """Lay the linear warm-up and decay out over `factor` times the steps that will run: k-fold's final
    model trains the chosen e of the folds' E epochs on the folds' own schedule (factor E / e), the one
    the epoch count was chosen under, instead of decaying to zero within e epochs."""
    from simpletransformers.classification import classification_model as st_module

    original = st_module.get_linear_schedule_with_warmup

    def stretched(optimizer, *args, **kwargs):
        kwargs["num_training_steps"] = round(kwargs["num_training_steps"] * factor)
        kwargs["num_warmup_steps"] = math.ceil(kwargs["num_warmup_steps"] * factor)
        return original(optimizer, *args, **kwargs)

    st_module.get_linear_schedule_with_warmup = stretched
    try:
        yield
    finally:
        st_module.get_linear_schedule_with_warmup = original


@contextmanager
def fused_adamw() -> Iterator[None]:
    """Simple Transformers builds torch's AdamW with its default for-loop implementation; on this
    22.7M-parameter model its per-tensor element-wise updates took a large share of each CPU step
    (bench/profile_train.py). The fused kernel does the same update in one pass per tensor."""
    import torch
    from simpletransformers.classification import classification_model as st_module

    original = st_module.AdamW
    st_module.AdamW = functools.partial(torch.optim.AdamW, fused=True)
    try:
        yield
    finally:
        st_module.AdamW = original


@contextmanager
def tracked_grad_scaler(owner: Any, resume_dir: Path | None) -> Iterator[None]:
    """Simple Transformers makes its fp16 GradScaler inside train() and never saves it: keep a handle on
    it (saved with each checkpoint as JSON) and give it back its state on resume."""
    from torch.cuda import amp

    original = amp.GradScaler

    def making(*args, **kwargs):
        scaler = original(*args, **kwargs)
        state = resume_dir / SCALER_STATE if resume_dir else None
        if state is not None and state.exists():
            scaler.load_state_dict(json.loads(state.read_text()))
        owner.scaler = scaler
        return scaler

    amp.GradScaler = making
    try:
        yield
    finally:
        amp.GradScaler = original


def renumbered_checkpoint(output_dir: str | None, start_epoch: int) -> str | None:
    """Simple Transformers numbers a resumed run's epochs from 1 again (checkpoint-<step>-epoch-1 for the
    run's epoch start_epoch + 1), which would make the best-epoch lookup take the wrong checkpoint: write
    each epoch checkpoint under its real epoch number (the empty folder it made first is removed)."""
    import re

    found = re.fullmatch(r"(.*checkpoint-\d+-epoch-)(\d+)", str(output_dir or ""))
    if not found or not start_epoch:
        return output_dir
    stated = Path(str(output_dir))
    if stated.is_dir() and not any(stated.iterdir()):
        stated.rmdir()
    return f"{found.group(1)}{int(found.group(2)) + start_epoch}"


def float_outputs(outputs: tuple) -> tuple:
    """bf16 logits cannot become numpy arrays: hand Simple Transformers fp32 ones."""
    loss, *rest = outputs
    return (
        loss,
        *[o.float() if hasattr(o, "is_floating_point") and o.is_floating_point() else o for o in rest],
    )
