"""RESUME=1: find the interrupted run and continue it on exactly the data and settings it started with.

A resumed run reads the split saved in its folder (never a redrawn one) and refuses to continue when
the data file changed since it started (its sha256 is recorded) or when an override asks for a
setting the run did not start with: either would silently mix a different experiment into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from scripts.common import runs
from scripts.common.errors import UserError
from scripts.common.locks import owner
from scripts.data.dataset import load_split
from scripts.data.sources import Source, sha256_of

# Overrides that may differ on resume: where the run lives and how this machine runs it.
SAFE_ON_RESUME = {"outputs_dir", "threads", "precision", "eval_batch_size"}
SPLITS = ("train", "validation", "test")


@dataclass
class Interrupted:
    work: Path  # outputs/.incomplete/<run>
    checkpoint: Path  # the newest epoch checkpoint with its validation scores
    epoch: int
    saved: dict[str, Any]  # config.json of the run: flat, requested, data


def find(outputs_dir: Path) -> Interrupted:
    """The newest interrupted run with a complete, scored epoch checkpoint."""
    from scripts.training.checkpoints import last_checkpoint

    incomplete = outputs_dir / runs.INCOMPLETE
    candidates = (
        sorted(
            (p for p in incomplete.glob("*") if (p / "config.json").exists()),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        if incomplete.exists()
        else []
    )
    busy = []
    for work in candidates:
        if owner(work) is not None:  # still training in another process: not interrupted
            busy.append(f"{work.name} is still training in process {owner(work)}")
            continue
        found = last_checkpoint(work / "checkpoints")
        if found:
            return Interrupted(work, found[0], found[1], runs.read_json(work / "config.json"))
    raise UserError(
        f"nothing to resume: no interrupted run with an epoch checkpoint in {incomplete}"
        + (f" ({'; '.join(busy)})" if busy else "")
        + "; run `make train` without RESUME=1"
    )


def config(interrupted: Interrupted, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The run's own resolved config; overrides only where they are safe, else one line naming them."""
    saved = interrupted.saved
    changed = {
        k: v
        for k, v in overrides.items()
        if k not in SAFE_ON_RESUME and saved["requested"].get(k, saved["flat"].get(k)) != v
    }
    if changed:
        listed = ", ".join(
            f"{k}={v!r} (the run has {saved['requested'].get(k, saved['flat'].get(k))!r})"
            for k, v in changed.items()
        )
        raise UserError(
            f"RESUME=1 continues {interrupted.work.name} with the settings it started with; these "
            f"overrides differ: {listed}. Drop them, or start a new run without RESUME=1"
        )
    started_with, now = int(saved.get("world_size", 1)), current_world_size()
    if started_with != now:
        raise UserError(
            f"{interrupted.work.name} was trained with {started_with} process(es) and this resume has {now}: "
            f"continue it with `make train RESUME=1 NPROC={started_with}`"
            + ("" if started_with > 1 else " (or without NPROC)")
        )
    # precision is re-resolved for this machine: a run started on a GPU can resume on a CPU
    return {
        **saved["flat"],
        **{k: v for k, v in overrides.items() if k in SAFE_ON_RESUME},
        "precision": overrides.get("precision", saved["requested"].get("precision", "auto")),
    }


def current_world_size() -> int:
    from scripts.training.distributed import current

    return current().size


def fingerprint(source: Source) -> dict[str, dict[str, str]]:
    """What the run was trained from: each data file and its sha256 (saved in config.json)."""
    if source.hub_dataset:  # a Hub dataset is pinned by its commit
        return {"hub": {"path": source.hub_dataset, "sha256": str(source.hub_revision)}}
    return {part: {"path": str(path), "sha256": sha256_of(path)} for part, path in source.files.items()}


def saved_splits(interrupted: Interrupted, source: Source, task: str) -> dict[str, pd.DataFrame]:
    """The split the run started with, after checking that its data files are unchanged."""
    recorded = interrupted.saved.get("data") or {}
    now = fingerprint(source)
    changed = [part for part, info in recorded.items() if now.get(part, {}).get("sha256") != info["sha256"]]
    if changed or set(recorded) != set(now):
        names = ", ".join(Path(recorded.get(p, now.get(p, {})).get("path", p)).name for p in changed or now)
        raise UserError(
            f"the data changed since {interrupted.work.name} started ({names}: different sha256): "
            "resuming would redraw the split and train on test rows. Restore the file, or start a "
            "new run without RESUME=1"
        )
    return {part: load_split(runs.split_path(interrupted.work, part), task) for part in SPLITS}


def keep_history_before(interrupted: Interrupted) -> None:
    """The scores of the epochs before the interrupt, which the resumed Simple Transformers run does not
    know."""
    scores = interrupted.work / "checkpoints" / "training_progress_scores.csv"
    if scores.exists():
        pd.read_csv(scores).head(interrupted.epoch).to_csv(
            interrupted.work / "history_before_resume.csv", index=False
        )
