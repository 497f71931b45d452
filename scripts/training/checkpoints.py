"""Epoch checkpoints of a training run: which are complete, the best one's files and validation outputs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from scripts.common.errors import UserError
from scripts.model.base_model import MODEL_FILES
from scripts.training.st.patches import VALIDATION_OUTPUTS


def copy_model_files(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    if not (dst / "model.safetensors").exists():
        raise RuntimeError(f"no model.safetensors in {src}: weights must be saved as safetensors")


def validation_probabilities(
    checkpoint: Path, kind: Any, scale: dict[str, list[float]] | None = None
) -> np.ndarray:
    """What the saved model must give on the validation rows, from the raw outputs its evaluation kept
    while training: probabilities, or a regression's scores in the data's units."""
    outputs = np.load(checkpoint / VALIDATION_OUTPUTS, allow_pickle=False).astype(np.float64)
    return kind.activate(kind.from_model(outputs, scale))


def epoch_checkpoint(checkpoints: Path, epoch: int) -> Path:
    found = sorted(checkpoints.glob(f"checkpoint-*-epoch-{epoch}"))
    if not found:
        raise RuntimeError(f"no checkpoint for epoch {epoch} in {checkpoints}")
    return found[0]


def scored_epochs(checkpoints: Path) -> int:
    """How many epochs have their validation scores written (the checkpoint is saved before the scores)."""

    def rows(path: Path) -> int:
        return max(0, len(path.read_text().strip().splitlines()) - 1) if path.exists() else 0

    # a resumed run's scores file holds its own epochs only; the ones before are kept beside it
    return rows(checkpoints / "training_progress_scores.csv") + rows(
        checkpoints.parent / "history_before_resume.csv"
    )


def last_checkpoint(checkpoints: Path) -> tuple[Path, int] | None:
    """The newest complete epoch checkpoint whose validation scores were also written."""
    scored = scored_epochs(checkpoints)
    done = [
        (int(p.name.rsplit("-", 1)[1]), p)
        for p in checkpoints.glob("checkpoint-*-epoch-*")
        if int(p.name.rsplit("-", 1)[1]) <= scored
        # model_args.json is the last file Simple Transformers writes into a checkpoint
        if all(
            (p / f).exists() for f in ("model.safetensors", "optimizer.pt", "scheduler.pt", "model_args.json")
        )
    ]
    if not done:
        return None
    epoch, path = max(done)
    return path, epoch


def check_disk(path: Path, base_model: str, epochs: float) -> None:
    """Refuse to start when the checkpoints would not fit (weights + 2x optimizer state per epoch)."""
    weights = Path(base_model) / "model.safetensors"
    size = weights.stat().st_size if weights.exists() else 500 * 2**20
    need = int(size * 3 * (np.ceil(epochs) + 1) + size)
    free = shutil.disk_usage(path).free
    if free < need:
        raise UserError(
            f"not enough disk for the checkpoints: about {need / 2**30:.1f} GiB needed in {path}, "
            f"{free / 2**30:.1f} GiB free; free some space or set outputs_dir elsewhere"
        )
