"""quickfit at one draw of make curve, as make train runs it: the draw's validation carved as make train
carves it (or k-fold selection on the whole draw where that is too small), the test probabilities, and
the cross-validated estimate make eval would show beside them with the scores it came from."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.common.console import quiet, say
from scripts.data.dataset import Dataset
from scripts.evaluation.curve_store import SCRATCH_PREFIX


def carve_validation(
    rows: pd.DataFrame, dataset: Dataset, fraction: float, seed: int
) -> dict[str, pd.DataFrame]:
    """The draw's validation carved as make train carves it from a dataset with its own test split
    (`validation_size` of the rows, stratified), so k-fold is chosen at the sizes make train chooses it."""
    from scripts.data.split import carve

    train, validation = carve(rows, fraction, dataset, seed, "validation")
    return {"train": train, "validation": validation}


def quickfit_probs(cfg, dataset: Dataset, base: str, rows: pd.DataFrame, texts: list[Any], seed: int):
    """quickfit as make train runs it on the draw (its own validation carved out, or k-fold selection on
    the whole draw where that validation is too small); test probabilities."""
    from scripts import train
    from scripts.model.inference import load_predictor
    from scripts.training import kfold
    from scripts.training.finalise import finalise

    splits = carve_validation(rows, dataset, cfg["validation_size"], seed)
    with quiet():
        plan = kfold.plan_for({**cfg, "manual_seed": seed}, dataset, splits, base, True, False)
    say(draw_plan_line(plan, splits))
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as work:
        result = kfold.fit(plan, dataset, base, Path(work), train.train_with_plan)
        finalise(result, dataset, kfold.held_out_rows(plan, splits), plan.cfg, plan.selection)
        predictor = load_predictor(result.model_dir, cfg["threads"])
        estimate = shown_estimate(plan, dataset, predictor.meta)
        return predictor.predict_proba(texts), predictor.thresholds or None, estimate


def shown_estimate(plan: Any, dataset: Dataset, meta: dict[str, Any]) -> dict[str, float] | None:
    """The cross-validated estimate make eval would show for the draw's model (k-fold runs; None
    otherwise), in the curve's metric: corrected, its interval, and the naive score it corrects."""
    from scripts.evaluation.cross_validated import estimate_from
    from scripts.training import kfold

    if not kfold.is_kfold(plan):
        return None
    s, kind, labels = plan.selection, dataset.kind, dataset.label_names
    positive = labels.index(dataset.positive_label) if dataset.positive_label else None
    found = estimate_from(
        s.oof_logits,
        s.by_epoch,
        s.groups,
        kind.encode(s.rows["labels"], labels),
        kind,
        labels,
        positive,
        plan.metric_name,
        meta.get("thresholds") or None,
        meta.get("temperature"),
    )
    metric = kind.curve_metric
    if metric not in found["metrics"]:
        return None
    low, high = found["intervals"].get(metric, [float("nan")] * 2)
    kept = {  # what the estimate was computed from, kept beside the curve to re-examine it
        "logits": s.oof_logits,
        "by_epoch": s.by_epoch,
        "groups": s.groups,
        "y": kind.encode(s.rows["labels"], labels),
        "thresholds": np.asarray(meta.get("thresholds") or [], dtype=float),
        "temperature": np.asarray(meta.get("temperature") or [], dtype=float),
        "labels": np.asarray(labels, dtype=str),
        "positive": np.asarray(-1 if positive is None else positive),
        "metric": np.asarray(plan.metric_name, dtype=str),
        "task": np.asarray(kind.name, dtype=str),
    }
    return {
        "estimate": found["metrics"][metric],
        "estimate_low": low,
        "estimate_high": high,
        "estimate_naive": found["naive"][metric],
        "inputs": kept,
    }


def draw_plan_line(plan: Any, splits: dict[str, pd.DataFrame]) -> str:
    """What make train would print about the draw, in one line (its plan is made quietly)."""
    c = plan.cfg
    return (
        f"quickfit on the draw: {len(splits['train'])} training + {len(splits['validation'])} validation "
        f"rows; model_selection -> {plan.selection.method}; {c['num_train_epochs']} epochs of batches of "
        f"{c['train_batch_size']} at {c['learning_rate']:g}, probe_start={c['probe_start']}"
    )
