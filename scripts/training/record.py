"""run.json, built in one place: what was trained on, how, and how it went; every later stage reads it."""

from __future__ import annotations

import time
from typing import Any

from scripts.common import provenance
from scripts.data.dataset import label_counts
from scripts.model import base_model
from scripts.training import kfold


def run_record(
    name: str,
    plan: Any,
    dataset: Any,
    source: Any,
    splits: dict[str, Any],
    result: Any,
    finalised: dict[str, Any],
    world: Any,
    timing: dict[str, float],
    resumed: bool,
    search: dict[str, Any] | None,
) -> dict[str, Any]:
    """The run record: the data (source, cleaning, split, counts), the recipe the plan resolved, the model,
    the best epoch, calibration and thresholds, timings, versions and hardware."""
    cfg = plan.cfg
    return {
        "run": name,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": provenance.command_line(),
        "task": dataset.task,
        "text_pair": dataset.text_pair,
        "labels": dataset.label_names,
        "positive_label": dataset.positive_label,
        "dataset": _dataset(source, dataset),
        "counts": {part: label_counts(frame, dataset.task) for part, frame in splits.items()},
        "target_stats": _target_stats(dataset, splits),
        "balance": _balance(plan.balanced),
        "max_seq_length": plan.max_len,
        "truncation": cfg["truncation"],
        **_reading_and_selection(plan),
        "token_lengths": plan.stats,
        "length_grouping": bool(cfg["length_grouping"]),
        "grouping_class_mix": bool(cfg["grouping_class_mix"]),
        "sub_batches": bool(cfg["sub_batches"]),
        "sub_batch_pass_cost": result.pass_cost,
        "precision": cfg["precision"],
        "threads": plan.threads,
        "distributed": {"world_size": world.size, "backend": world.backend or "none"},
        "model": {
            "model_type": cfg["model_type"],
            "model_name": cfg["model_name"],
            "base_model": base_model.hub_base_model(cfg["model_name"]),
            "probe_start": cfg.get("probe_start") is True,
        },
        "selection_metric": plan.metric_name,
        "best_epoch": result.best_epoch,
        "validation_best": _validation_best(plan, result),
        "thresholds": finalised["thresholds"],
        "calibration": finalised["calibration"],
        "interval": finalised.get("interval"),
        "target_scale": cfg.get("target_scale"),
        "resumed": resumed,
        "hyperparameter_search": search,
        "train_seconds": round(timing["train_seconds"], 1),
        "total_seconds": round(time.time() - timing["started"], 1),
        "versions": provenance.versions(),
        "hardware": provenance.hardware(),
    }


def _reading_and_selection(plan: Any) -> dict[str, Any]:
    """How long texts were read, and how the epoch count was chosen."""
    cfg = plan.cfg
    return {
        "long_texts": {
            "mode": cfg["long_texts"],
            "window_overlap": cfg["window_overlap"],
            "windows_per_text": cfg["windows_per_text"],
            "training_windows": len(plan.train_df),
        },
        "model_selection": plan.selection.record() if plan.selection is not None else None,
    }


def _validation_best(plan: Any, result: Any) -> float:
    """The chosen epoch's score: on validation, or (k-fold) out of fold, since the final model's
    "validation" pass scored its own training rows."""
    if kfold.is_kfold(plan):
        return plan.selection.chosen_score()
    return result.best_metric


def _dataset(source: Any, dataset: Any) -> dict[str, Any]:
    """Where the data came from and what was done to it (cleaning, split, leakage)."""
    return {
        "name": source.name,
        "description": source.description,
        "citation": source.citation,
        "license": source.license,
        "language": source.language,
        "hub_dataset": source.hub_dataset,
        "hub_config": source.hub_config,
        "hub_revision": source.hub_revision,
        **dataset.report,
    }


def _balance(balanced: Any) -> dict[str, Any]:
    return {
        "method": balanced.method,
        "reason": balanced.reason,
        "before": balanced.counts_before,
        "after": balanced.counts_after,
        "class_weight": balanced.class_weight,
        "pos_weight": balanced.pos_weight,
    }


def _target_stats(dataset: Any, splits: dict[str, Any]) -> dict[str, Any] | None:
    """A regression's targets in each split: rows, mean, spread and range (the card's data table)."""
    if dataset.kind.classifies:
        return None
    out: dict[str, Any] = {}
    for part, frame in splits.items():
        y = dataset.kind.encode(frame["labels"], dataset.label_names)
        out[part] = {
            name: {
                "rows": len(y),
                "mean": float(y[:, j].mean()) if len(y) else None,
                "std": float(y[:, j].std()) if len(y) else None,
                "min": float(y[:, j].min()) if len(y) else None,
                "max": float(y[:, j].max()) if len(y) else None,
            }
            for j, name in enumerate(dataset.label_names)
        }
    return out
