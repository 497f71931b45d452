"""The frozen probe as one more k-fold candidate: a small-data run is never worse than the probe by
construction (as far as out-of-fold scores can tell).

On a few dozen rows a linear model on a sentence-transformers body's own embedding can beat a fine-tune of
it (SMS spam at 16 a class, draw 4: the fine-tune 0.8542, the probe 0.8889; bench/SMALL_DATA.md). So in a
k-fold run on a body that can carry it (a mean-pooled sentence-transformers BERT, as probe_start needs),
the probe is scored on the same grouped folds as the fine-tune's epochs. Its features are the body's mean
as the shipped model reads it (probe_start's appended layer, the pooler scaled to give the centred mean at
unit length, as the frozen probe reference reads an L2-normalised mean); its head is logistic
regression, C chosen by 4-fold log-loss on each fold's training rows (ridge on standardised targets for
scores), fitted without the fold's rows. Its out-of-fold outputs join the epochs' as one more candidate, so
the choice (best out-of-fold score, ties by log-loss) and the bias correction that replays it cover it.
When it wins, the published model is the probe: the base body, the appended layer and the head fitted on
every labelled row, a plain BertForSequenceClassification that was never fine-tuned.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.common.console import say
from scripts.common.errors import UserError
from scripts.common.runs import SHIPPED_PROBE
from scripts.model import probe_start
from scripts.training.kfold import FINE_TUNE, best_epoch, log_loss


@dataclass
class Probe:
    """The probe scored out of fold, and what shipping it needs (the body with its mean layer, in memory)."""

    outputs: np.ndarray  # out-of-fold outputs: logits, log-odds or scores in the data's units
    score: float
    loss: float
    features: np.ndarray
    model: Any
    tokenizer: Any


def unavailable(cfg: dict[str, Any], base: str) -> str | None:
    """Why the probe is not a candidate in a k-fold run (None: it is); probe_candidate=True on a body that
    cannot carry it is refused before any fold trains."""
    if cfg.get("probe_candidate") is False:
        return "probe_candidate=False"
    why = probe_start.unsuited(base, cfg["model_type"])
    if why is None and cfg.get("long_texts") == "chunks":
        why = "long_texts=chunks (the probe would read only a text's first window)"
    if why and cfg.get("probe_candidate") is True:
        raise UserError(
            f"probe_candidate=True needs a mean-pooled sentence-transformers BERT body read whole, and "
            f"{cfg['model_name']} is {why}; set probe_candidate=auto or False"
        )
    return why


def fitted_head(
    features: np.ndarray, y: np.ndarray, kind: Any, n_labels: int, seed: int, scale: Any = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """The probe's head on these rows in the data's units (a regression's target scale folded in: the rows'
    own, or `scale`), and how its penalty was chosen."""
    from scripts.evaluation.baselines import chosen_c

    if kind.classifies:
        c, how = chosen_c(kind, features, y, n_labels, seed)
        weight, bias = probe_start.probe_head(features, y, kind.name, n_labels, seed, 1.0, C=c)
        return weight, bias, how
    scale = scale or kind.target_scale(y)
    weight, bias = probe_start.probe_head(features, kind.to_model(y, scale), kind.name, n_labels, seed)
    std, mean = np.asarray(scale["std"]), np.asarray(scale["mean"])
    return weight * std[:, None], bias * std + mean, "ridge penalty cross-validated by RidgeCV"


def out_of_fold(
    features: np.ndarray, y: np.ndarray, folds: list[Any], kind: Any, n_labels: int, seed: int
) -> np.ndarray:
    """Each row's output from the probe fitted on the other folds' rows (the fine-tune's folds)."""
    out = np.zeros((len(y), n_labels), dtype=np.float32)
    for train_idx, held in folds:
        weight, bias, _ = fitted_head(features[train_idx], y[train_idx], kind, n_labels, seed)
        out[held] = features[held] @ weight.T + bias
    return out


def scored(plan: Any, dataset: Any, base: str) -> Probe | None:
    """The probe's out-of-fold outputs on the run's folds (the fine-tune's, kept in its selection) and its
    pooled score; None (said) where it is not a candidate."""
    selection = plan.selection
    if selection.probe_unavailable:
        say(f"k-fold: the frozen probe is not a candidate: {selection.probe_unavailable}")
        return None
    kind, n_labels = dataset.kind, len(dataset.label_names)
    y = kind.encode(selection.rows["labels"], dataset.label_names)
    model, tokenizer = probe_start.mean_pooled_model(base, n_labels, unit_norm=True)
    rows = dataset.inputs.rows(selection.rows)
    features = probe_start.pooled_features(model, tokenizer, rows, plan.max_len)
    try:
        outputs = out_of_fold(features, y, selection.splits, kind, n_labels, int(plan.cfg["manual_seed"]))
    except ValueError as exc:  # a fold whose training rows hold one class: no logistic regression
        say(f"k-fold: the frozen probe is not a candidate: {str(exc).splitlines()[0][:160]}")
        return None
    score, loss = float(plan.metric_fn(y, outputs)), log_loss(kind, y, outputs)
    return Probe(outputs, score, loss, features, model, tokenizer)


def compete(selection: Any, probe: Probe, metric: str) -> Any:
    """The selection with the probe as one more candidate after the epochs (by_epoch gains its outputs, so
    the bias correction replays this choice too), and which one ships."""
    scores = [*selection.per_epoch, probe.score]
    best = best_epoch(scores, [*selection.losses, probe.loss])
    wins = best == len(selection.per_epoch)
    fine_tuned = f"the fine-tune's {selection.epoch} epochs {selection.per_epoch[selection.epoch - 1]:.4f}"
    say(
        f"k-fold: the frozen probe (candidate) scores out-of-fold {metric} {probe.score:.4f} against "
        + fine_tuned
        + (
            ": the probe is shipped (no final fine-tune; the model is the body, its mean layer and the "
            "probe's head fitted on every labelled row)"
            if wins
            else ": the fine-tune is kept"
        )
    )
    return dataclasses.replace(
        selection,
        by_epoch=np.concatenate([selection.by_epoch, probe.outputs[None]]),
        oof_logits=probe.outputs if wins else selection.oof_logits,
        probe_score=probe.score,
        shipped=SHIPPED_PROBE if wins else FINE_TUNE,
    )


def ship(plan: Any, dataset: Any, probe: Probe, work: Path) -> Any:
    """The probe fitted on every labelled row, saved as the run's model; a TrainResult whose validation
    probabilities (on those rows) the saved model must reproduce when finalise reloads it."""
    from scripts.training.fit import TrainResult

    kind, n_labels = dataset.kind, len(dataset.label_names)
    y = kind.encode(plan.selection.rows["labels"], dataset.label_names)
    seed = int(plan.cfg["manual_seed"])
    weight, bias, how = fitted_head(probe.features, y, kind, n_labels, seed, plan.cfg.get("target_scale"))
    probe_start.save_with_head(probe.model, probe.tokenizer, weight, bias, work / "model")
    say(f"the frozen probe's head fitted on all {len(y)} labelled rows ({how})")
    history = pd.DataFrame(columns=["epoch", "train_loss", "eval_loss", plan.metric_name])
    history.to_csv(work / "history.csv", index=False)
    outputs = probe.features @ weight.T + bias
    return TrainResult(
        model_dir=work / "model",
        history=history,
        best_metric=probe.score,
        global_step=0,
        best_epoch=0,
        validation_probs=kind.activate(outputs),
        fine_tuned=False,
    )
