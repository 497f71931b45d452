"""After training: check the saved model as every later stage will load it, calibrate and tune thresholds on
validation, and write what the model folder carries for prediction (quickfit.json)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scripts.common.console import say
from scripts.common.errors import UserError
from scripts.data.dataset import Dataset, encode_labels
from scripts.evaluation import thresholds
from scripts.model import base_model


def finalise(
    result, dataset: Dataset, validation: pd.DataFrame, cfg: dict[str, Any], selection: Any = None
) -> dict[str, Any]:
    """The model folder made ready for every later stage; returns the calibration and threshold records.
    With k-fold selection, `validation` is every labelled row (what the final model saw) and calibration
    and thresholds come from the chosen epoch's out-of-fold logits instead."""
    # the preflight refuses such plans; this is the last line of defence (a shipped probe trains no step)
    if not result.global_step and result.fine_tuned:
        raise UserError(
            "no optimizer step ran, so the model is its base with an untrained head; nothing was published. "
            "Lower gradient_accumulation_steps or train_batch_size, or give more rows"
        )
    meta = {
        "positive_label": dataset.positive_label,
        "max_seq_length": cfg["max_seq_length"],
        "truncation": cfg["truncation"],
        "long_texts": cfg["long_texts"],
        "window_overlap": cfg["window_overlap"],
        "model_type": cfg["model_type"],
        "text_pair": dataset.text_pair,
        "target_scale": cfg.get("target_scale"),  # already folded into the head; kept for the record
    }
    base_model.write_label_map(result.model_dir, dataset.label_names, dataset.task, meta)
    logits = check_saved_model(result, validation, cfg, dataset)
    source = "validation"
    if selection is not None and selection.method == "kfold":
        logits, source = selection.oof_logits, "out-of-fold"
    if not dataset.kind.has_temperature:  # regression: a prediction interval instead of a temperature
        interval = prediction_interval(logits, dataset, validation, source)
        base_model.update_model_meta(
            result.model_dir, {"thresholds": [], "temperature": None, "interval": interval}
        )
        return {"calibration": None, "thresholds": None, "interval": interval}
    temperature, calibration_info, validation_probs = calibrate(logits, dataset, validation, cfg, source)
    tuned, threshold_info = tune_thresholds(dataset, cfg, validation, validation_probs, source)
    base_model.update_model_meta(
        result.model_dir,
        {
            "thresholds": tuned,
            "thresholds_tuned_on": source if tuned else None,
            "temperature": temperature,
        },
    )
    return {"calibration": calibration_info, "thresholds": threshold_info}


def prediction_interval(
    scores: np.ndarray, dataset: Dataset, validation: pd.DataFrame, source: str
) -> dict[str, Any] | None:
    """The 90 % split-conformal half-widths of each target (one a range of predicted value where the rows
    allow) from held-out residuals (validation, or out of fold), said; None (and said why) when too few."""
    from scripts.evaluation.intervals import LEVEL, conformal_interval, has_ranges, width_words

    y = dataset.kind.encode(validation["labels"], dataset.label_names)
    found, why = conformal_interval(y, scores, LEVEL)
    if found is None:
        say(f"no prediction interval: {why}")
        return None
    shown = " | ".join(width_words(found, j) for j in range(len(found["half_width"])))
    say(f"{LEVEL:.0%} prediction interval: {shown} ({why}, {source})")
    method = "split conformal" + (" by predicted range" if has_ranges(found) else "")
    return {"level": LEVEL, **found, "fitted_on": source, "rows": len(y), "method": method}


# How far the saved model's validation probabilities may drift from the training-time ones: float
# round-off in fp32 (padding per batch instead of to max_seq_length); half precision rounds more.
SAVED_MODEL_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 5e-2}


def check_saved_model(result, validation: pd.DataFrame, cfg: dict[str, Any], dataset: Dataset) -> np.ndarray:
    """Load the saved folder as every later stage will (plain transformers) and check it reproduces the
    validation probabilities (or scores) of the chosen epoch as computed during training: a head that does
    not round-trip, a tokenizer that differs, or weights that were not saved are caught here, not on the
    Hub. A regression's scores are compared relative to each target's spread."""
    from scripts.model.inference import load_predictor

    predictor = load_predictor(result.model_dir, cfg["threads"])
    logits = predictor.predict_logits(dataset.inputs.rows(validation), cfg["eval_batch_size"])
    probs = predictor.kind.activate(logits)
    spread = np.asarray((cfg.get("target_scale") or {}).get("std") or [1.0])
    drift = float((np.abs(probs - result.validation_probs) / spread).max()) if len(probs) else 0.0
    if drift > SAVED_MODEL_TOLERANCE[cfg["precision"]]:
        raise UserError(
            f"the saved {cfg['model_type']} model does not reproduce its training-time validation "
            f"probabilities (largest difference {drift:.2e}); nothing was published. Please report "
            "this with the model_name"
        )
    say(
        f"saved model checked: reloaded with plain transformers it gives the training-time validation "
        f"probabilities (largest difference {drift:.1e})"
    )
    return logits


def calibrate(
    logits: np.ndarray,
    dataset: Dataset,
    validation: pd.DataFrame,
    cfg: dict[str, Any],
    source: str = "validation",
) -> tuple[Any, dict[str, Any] | None, np.ndarray]:
    """Temperature scaling fitted on validation (calibrate=True) and kept only where it lowers the log-loss
    of validation rows it was not fitted on: the temperature (or None), what it did there, and the
    validation probabilities the thresholds are then tuned on."""
    from scripts.evaluation import calibration

    before = calibration.activate(logits, dataset.task)
    if not cfg["calibrate"]:
        return None, None, before
    y = np.array(encode_labels(validation["labels"], dataset.label_names, dataset.task))
    temperature, reason = calibration.held_out_temperature(logits, y, dataset.task, cfg["manual_seed"])
    after = calibration.activate(logits, dataset.task, temperature)
    info = {
        "temperature": temperature,
        "fitted_on": source,
        "rows": len(y),
        "reason": reason,
        "validation_ece_before": calibration.ece(before, y, dataset.task),
        "validation_ece_after": calibration.ece(after, y, dataset.task),
    }
    if temperature is None:
        say(f"temperature scaling not applied: {reason}")
        return None, info, before
    shown = (
        temperature if isinstance(temperature, float) else f"{min(temperature):.2f}-{max(temperature):.2f}"
    )
    say(
        f"temperature scaling on {source} scores: T={shown} ({reason}); "
        f"ECE {info['validation_ece_before']:.4f} -> {info['validation_ece_after']:.4f}"
    )
    return temperature, info, after


def tune_thresholds(
    dataset: Dataset,
    cfg: dict[str, Any],
    validation: pd.DataFrame,
    probs: np.ndarray,
    source: str = "validation",
) -> tuple[list[float], dict[str, Any] | None]:
    """Multi-label always, binary when asked: thresholds from the validation split only."""
    if dataset.kind.threshold_counts(len(dataset.label_names))[-1] == 0 or (
        dataset.positive_label is not None and not cfg["tune_binary_threshold"]
    ):
        return [], None
    y = np.array(encode_labels(validation["labels"], dataset.label_names, dataset.task))
    if dataset.positive_label is not None:  # binary: one threshold, on the positive label
        pos = dataset.label_names.index(dataset.positive_label)
        t, f1, kept = thresholds.binary_threshold((y == pos).astype(int), probs[:, pos])
        say(
            f"binary threshold kept at 0.5 on {source} scores: {kept}"
            if kept
            else f"binary threshold tuned on {source} scores: {t:.2f} (F1 there {f1:.4f})"
        )
        info = {"values": {dataset.positive_label: t}, "tuned_on": source, "rows": len(y)}
        return [t], {**info, "kept_0.5": kept} if kept else info
    tuned, curves = thresholds.tune_per_label(y, probs)
    say(f"per-label thresholds tuned on {len(y)} {source} rows (range {min(tuned):.2f}-{max(tuned):.2f})")
    return tuned, {
        "values": dict(zip(dataset.label_names, tuned)),
        "tuned_on": source,
        "rows": len(y),
        "grid": thresholds.GRID.tolist(),
        "curves": curves,
    }
