"""The card's sentences about how the model was trained: how its epoch was chosen, how long texts are read."""

from __future__ import annotations

from typing import Any

from scripts.common import runs


def selection_sentence(record: dict[str, Any], epochs_run: int) -> str:
    """How the model's epoch was chosen: on validation, or by k-fold cross-validation."""
    selection = record.get("model_selection") or {}
    metric = record["selection_metric"]
    if selection.get("method") == "kfold":
        by_epoch = ", ".join(f"{v:.3f}" for v in selection["out_of_fold_by_epoch"])
        probe = selection.get("probe_candidate")
        probe_score = f"{probe['out_of_fold']:.3f}" if isinstance(probe, dict) else None
        if selection.get("shipped") == runs.SHIPPED_PROBE:
            return (
                f"This model is the frozen probe, not a fine-tune: {selection['folds']}-fold "
                f"cross-validation on all {selection['rows']} labelled rows scored the fine-tune by epoch "
                f"(out-of-fold {metric}: {by_epoch}) and the frozen probe ({probe_score}), and the probe "
                "won. It is the base model with one layer appended that gives every position the mean of "
                "its last hidden states, and a linear head (logistic regression; ridge for scores) fitted "
                "on that mean for all of them; its temperature and thresholds were fitted on the probe's "
                "out-of-fold scores. It loads as a plain transformers model."
            )
        probe_note = (
            f" The frozen probe, one more candidate on the same folds, scored {probe_score}."
            if probe_score
            else ""
        )
        return (
            f"The number of epochs ({selection['epoch']}) was chosen by {selection['folds']}-fold "
            f"cross-validation on all {selection['rows']} labelled rows (out-of-fold {metric} by epoch: "
            f"{by_epoch}); the final model was then trained on all of them for that many epochs, and its "
            f"temperature and thresholds fitted on the out-of-fold scores.{probe_note} The table below is "
            "that final training, scored on its own training rows."
        )
    return (
        f"Best epoch {record['best_epoch']} of {epochs_run} kept, chosen on validation {metric} "
        f"({record['validation_best']:.4f})."
    )


def start_sentence(record: dict[str, Any]) -> str:
    """probe_start: why the model has one layer more than its base, and how its head began."""
    if not (record.get("model") or {}).get("probe_start"):
        return ""
    return (
        "The fine-tune started from the frozen probe (`probe_start`): one layer was appended "
        "to the base model that gives every position the mean of its last hidden states, so the "
        "classification head reads the mean-pooled embedding the base was trained for, and the head "
        "began as logistic regression on it, fitted on the training rows (a tenth of its logits). The "
        "model therefore has one layer more than its base and loads as a plain transformers model.\n"
    )


def truncation_note(record: dict[str, Any]) -> str:
    """What max_seq_length cut, and how (records before the truncation key kept the head)."""
    stats = record.get("token_lengths") or {}
    if not stats:
        return ""
    auto = stats.get("auto", "truncation" not in record)
    long_texts = record.get("long_texts") or {}
    if long_texts.get("mode") == "chunks":
        return (
            f" ({stats.get('truncated_share_pct')}% of training texts longer, read whole: `long_texts` "
            f"chunks, windows sharing {long_texts['window_overlap']} tokens, at most "
            f"{long_texts['windows_per_text']} per text in training, all of them averaged when scoring)"
        )
    how = {"head": "the start kept", "tail": "the end kept", "head+tail": "the start and the end kept"}
    return (
        f" ({'auto: 99th percentile of training token lengths, ' if auto else ''}"
        f"{stats.get('truncated_share_pct')}% of training texts longer, "
        f"truncation `{record.get('truncation', 'head')}`: {how[record.get('truncation', 'head')]})"
    )
