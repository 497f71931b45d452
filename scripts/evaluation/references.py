"""The references a run is scored beside, on the same rows: TF-IDF + a linear model, the frozen-embedding
probe of the same base model (when it can be loaded) and the trivial predictor, each fitted on the training
split, with thresholds tuned on their own held-out scores where the transformer has tuned ones (validation,
or in a k-fold run their own out-of-fold scores: never rows they trained on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scripts.common import runs
from scripts.common.console import say
from scripts.common.errors import UserError
from scripts.evaluation import baselines
from scripts.model.base_model import hub_base_model


def reference_outputs(rows: Any, run_dir: Path, tuned) -> dict[str, Any]:
    """TF-IDF + a linear model, the frozen-embedding probe of the same base model (when it can be loaded)
    and the trivial predictor, each fitted on the training split, with validation-tuned thresholds where
    the transformer has them."""
    kind, n = rows.kind, len(rows.labels)
    # a k-fold run fitted its own rule on out-of-fold scores of the rows it trained on: so do they
    kfold = (rows.record.get("model_selection") or {}).get("method") == "kfold"
    found: dict[str, Any] = {}
    tfidf = baselines.tfidf_reference(
        rows.train, rows.y_train, [rows.frame, rows.val], kind, n, with_out_of_fold=kfold
    )
    found["tfidf_logreg"] = (tfidf[0], _thresholds(rows, tfidf[-1], tuned, kfold))
    probe, info = _frozen_probe(rows, run_dir, kfold)
    if probe is not None:
        found["frozen_probe"] = (probe[0], _thresholds(rows, probe[-1], tuned, kfold))
    majority = kind.constant(rows.y_train, len(rows.frame), n)
    found["majority_class"] = (majority, None)
    return {
        "outputs": {
            name: (kind.decide(probs, cuts, rows.positive), probs) for name, (probs, cuts) in found.items()
        },
        "frozen_probe": info,
    }


def _thresholds(rows: Any, held_probs: np.ndarray, tuned, kfold: bool) -> list[float] | None:
    """A reference gets the transformer's treatment: thresholds tuned on its own held-out scores (validation,
    or a k-fold run's out-of-fold scores of every training row)."""
    from scripts.evaluation import thresholds

    y = rows.y_train if kfold else rows.y_val
    return thresholds.reference_cuts(rows.kind, y, held_probs, rows.positive, bool(tuned))


def _window_overlap(record: dict[str, Any]) -> int | None:
    """A run reading long texts in windows: the probe reads them the same way (else only their head)."""
    long_texts = record.get("long_texts") or {}
    if isinstance(long_texts, dict) and long_texts.get("mode") == "chunks":
        return int(long_texts["window_overlap"])
    return None


def _frozen_probe(
    rows: Any, run_dir: Path, kfold: bool = False
) -> tuple[list[np.ndarray] | None, dict[str, Any]]:
    """The probe's test and validation outputs (and, k-fold, the training rows' out-of-fold outputs), or None
    with the reason it could not be had."""
    from scripts.evaluation import frozen_probe
    from scripts.model.base_model import resolve_model_name

    model = rows.record["model"]
    cfg = runs.saved_config(run_dir)
    inputs = rows.inputs
    try:
        path = resolve_model_name(model["model_name"], cfg.get("allow_pickle_weights", False))
        outputs, info = frozen_probe.probe_outputs(
            path,
            inputs.rows(rows.train),
            rows.y_train,
            [rows.texts, inputs.rows(rows.val)],
            rows.kind,
            len(rows.labels),
            int(rows.record["max_seq_length"]),
            with_out_of_fold=kfold,
            overlap=_window_overlap(rows.record),
        )
    except (UserError, OSError, ValueError) as exc:  # the base model is gone or cannot be reached now
        reason = str(exc).splitlines()[0][:200]
        say(f"frozen-embedding probe skipped: {reason}")
        return None, {"skipped": reason}
    return outputs, {
        **info,
        "base_model": model["model_name"] if hub_base_model(model["model_name"]) else None,
    }
