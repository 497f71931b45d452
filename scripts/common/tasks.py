"""One home per task kind. Every stage asks the task what differs between binary, multi-class, multi-label
and regression: how labels become the model's targets, which head and loss train it, how its raw outputs
become probabilities or scores and then decisions, which metrics judge it (and which one chooses the
epoch and compares it with its references), what quickfit.json must hold, how its splits are stratified
and which reference models stand beside it. Adding a task kind is one class here (docs/architecture.md).

The input kind (one text, or a pair of texts) is the other axis: `Inputs` below.

Heavy libraries (torch, scikit-learn, scipy) are imported inside the methods that need them: this module is
read by every entry point, prediction on ONNX Runtime included.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class Task:
    """What a task kind decides. Subclasses: SingleLabel (binary, multiclass), MultiLabel, Regression."""

    name: str
    word: str  # the card's adjective: "a binary text classifier"
    head: str  # the Simple Transformers class that trains it: single (softmax), multi (sigmoid)
    problem_type: str  # transformers' config.problem_type
    classifies = True  # False: a score per target instead of labels
    has_temperature = True  # temperature scaling applies (classification)
    stratify = "class"  # how splits and bootstrap resamples keep the label mix: class | iterative | quantile
    headline: tuple[str, ...] = ()
    compare = ""  # the metric of the collapse check, the references' comparison and the paired bootstrap
    curve_metric = ""  # make curve's metric
    hub_metrics: dict[str, str] = {}  # quickfit's metric name -> the Hub's model-index type
    target_dtype = "float32"  # what the loss takes: class ids (int64) or float targets

    # ---- labels -> targets
    def encode(self, labels: Iterable[Any], names: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def dump_label(self, value: Any) -> Any:
        """A label as a saved split's cell."""
        return value

    def parse_label(self, cell: str) -> Any:
        return cell

    def counts(self, labels: Iterable[Any]) -> dict[str, int]:
        """Rows per label (the card's counts table); empty where labels are numbers."""
        return {}

    # ---- the model's targets and outputs
    def target_scale(self, y: np.ndarray) -> dict[str, list[float]] | None:
        """What the targets are standardised with before training (None: used as they are)."""
        return None

    def to_model(self, y: np.ndarray, scale: dict[str, list[float]] | None) -> np.ndarray:
        return y

    def from_model(self, outputs: np.ndarray, scale: dict[str, list[float]] | None) -> np.ndarray:
        return outputs

    def loss(self, logits: Any, labels: Any, weight: Any = None) -> Any:
        raise NotImplementedError

    def activate(self, logits: np.ndarray, temperature: Any = None) -> np.ndarray:
        """Raw model outputs -> what a user reads (probabilities, or scores in the data's units)."""
        raise NotImplementedError

    def decide(
        self, outputs: np.ndarray, thresholds: Sequence[float] | None, positive: int | None
    ) -> np.ndarray:
        raise NotImplementedError

    def named(self, decided: np.ndarray, names: Sequence[str]) -> list[Any]:
        """Decisions as a user reads them: label names, tuples of names, or tuples of scores."""
        raise NotImplementedError

    def output_columns(self, names: Sequence[str]) -> list[str]:
        """The columns make predict adds beside `predicted`, one a label (or target)."""
        return [f"prob_{name}" for name in names]

    # ---- metrics
    def selection(self, positive: int | None) -> tuple[str, Callable[[np.ndarray, np.ndarray], float]]:
        """The validation metric that chooses the epoch, from raw outputs (logits) and encoded targets."""
        raise NotImplementedError

    def score(
        self,
        y: np.ndarray,
        decided: np.ndarray,
        outputs: np.ndarray,
        names: Sequence[str],
        positive: int | None,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def resampled(
        self, W: np.ndarray, y: np.ndarray, decided: np.ndarray, outputs: np.ndarray, positive: int | None
    ) -> dict[str, np.ndarray]:
        """Each bootstrap resample's metrics (rows weighted by W, resamples x rows)."""
        raise NotImplementedError

    def strata(self, y: np.ndarray) -> np.ndarray | None:
        """The group each row is resampled within (None: rows resampled as they are)."""
        return None

    # ---- references
    def linear_reference(self, seed: int = 0) -> Any:
        """The linear model fitted on TF-IDF features and on frozen embeddings (an sklearn estimator)."""
        raise NotImplementedError

    def reference_outputs(self, model: Any, x: Any, n_out: int, keep: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def constant(self, y_train: np.ndarray, n_rows: int, n_out: int) -> np.ndarray:
        """The trivial predictor's outputs: the majority class, or the training mean."""
        raise NotImplementedError

    # ---- quickfit.json
    def validate_meta(self, meta: dict[str, Any], path: Path, n: int) -> None:
        from scripts.model.meta import _numbers, damaged

        temperature = meta.get("temperature")
        if temperature is not None and not (
            (isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature > 0)
            or _numbers(temperature, n, 1e-9)
        ):
            raise damaged(path, "temperature", "must be null, a positive number or one per label")
        thresholds = meta.get("thresholds") or []
        if not _numbers(thresholds, None, 0.0, 1.0) or len(thresholds) not in self.threshold_counts(n):
            raise damaged(path, "thresholds", f"must be {self.threshold_words} between 0 and 1")

    threshold_words = "none"

    def threshold_counts(self, n: int) -> tuple[int, ...]:
        return (0,)


# ---------------------------------------------------------------- classification


def _softmax(scaled: np.ndarray) -> np.ndarray:
    shifted = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _scaled(logits: np.ndarray, temperature: Any) -> np.ndarray:
    return np.asarray(logits, dtype=np.float64) / np.asarray(temperature if temperature is not None else 1.0)


class SingleLabel(Task):
    head = "single"
    problem_type = "single_label_classification"
    target_dtype = "int64"

    def __init__(self, name: str, word: str, headline: tuple[str, ...], compare: str, curve_metric: str):
        self.name, self.word, self.headline, self.compare, self.curve_metric = (
            name,
            word,
            headline,
            compare,
            curve_metric,
        )
        self.hub_metrics = {m: m.split("_")[0] if m in ("accuracy", "mcc") else m for m in headline}

    def encode(self, labels, names):
        index = {name: i for i, name in enumerate(names)}
        return np.array([index[v] for v in labels], dtype=np.int64)

    def counts(self, labels):
        import pandas as pd

        return {str(k): int(v) for k, v in pd.Series(list(labels), dtype=object).value_counts().items()}

    def loss(self, logits, labels, weight=None):
        import torch

        return torch.nn.functional.cross_entropy(logits.float(), labels.view(-1), weight=weight)

    def activate(self, logits, temperature=None):
        return _softmax(_scaled(logits, temperature))

    def decide(self, outputs, thresholds, positive):
        if self.name == "binary" and thresholds:
            return np.where(outputs[:, positive] >= thresholds[0], positive, 1 - positive)
        return outputs.argmax(axis=1)

    def named(self, decided, names):
        return [names[i] for i in decided]

    def selection(self, positive):
        from sklearn import metrics as skm

        if self.name == "binary":
            return "f1_positive", lambda y, z: skm.f1_score(
                y, z.argmax(1), pos_label=positive, zero_division=0
            )
        return "f1_macro", lambda y, z: skm.f1_score(y, z.argmax(1), average="macro", zero_division=0)

    def score(self, y, decided, outputs, names, positive):
        from scripts.evaluation import metrics

        if self.name == "binary":
            return metrics.binary_metrics(y, decided, outputs[:, positive], positive, list(names))
        return metrics.multiclass_metrics(y, decided, outputs, list(names))

    def resampled(self, W, y, decided, outputs, positive):
        from scripts.evaluation.uncertainty import single_label_scores

        binary = self.name == "binary"
        prob_pos = outputs[:, positive] if binary else None
        return single_label_scores(W, y, decided, outputs.shape[1], positive if binary else None, prob_pos)

    def strata(self, y):
        return y

    def linear_reference(self, seed=0):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(class_weight="balanced", max_iter=3000, random_state=seed)

    def reference_outputs(self, model, x, n_out, keep=None):
        out = np.zeros((x.shape[0], n_out))
        if x.shape[0]:
            out[:, model.classes_] = model.predict_proba(x)
        return out

    def constant(self, y_train, n_rows, n_out):
        out = np.zeros((n_rows, n_out))
        out[:, int(np.bincount(y_train, minlength=n_out).argmax())] = 1.0
        return out

    threshold_words = "none, or one for the positive label (binary)"

    def threshold_counts(self, n):
        return (0, 1) if self.name == "binary" else (0,)


class MultiLabel(Task):
    name, word, head = "multilabel", "multi-label", "multi"
    problem_type = "multi_label_classification"
    stratify = "iterative"
    headline = (
        "f1_micro",
        "f1_macro",
        "f1_weighted",
        "f1_samples",
        "precision_micro",
        "recall_micro",
        "subset_accuracy",
        "hamming_loss",
        "lrap",
        "roc_auc_micro",
        "roc_auc_macro",
    )
    compare = curve_metric = "f1_macro"
    hub_metrics = {m: m for m in headline}

    def encode(self, labels, names):
        return np.array(
            [[1 if name in set(v) else 0 for name in names] for v in labels], dtype=np.int64
        ).reshape(-1, len(names))

    def dump_label(self, value):
        return json.dumps(list(value))

    def parse_label(self, cell):
        return tuple(json.loads(cell))

    def counts(self, labels):
        found: dict[str, int] = {}
        for value in labels:
            for name in value:
                found[name] = found.get(name, 0) + 1
        return dict(sorted(found.items(), key=lambda kv: -kv[1]))

    def loss(self, logits, labels, weight=None):
        import torch

        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits.float(), labels.float(), pos_weight=weight
        )

    def activate(self, logits, temperature=None):
        return 1.0 / (1.0 + np.exp(-_scaled(logits, temperature)))

    def decide(self, outputs, thresholds, positive):
        return (outputs >= (np.array(thresholds) if thresholds else 0.5)).astype(int)

    def named(self, decided, names):
        return [tuple(names[j] for j in np.flatnonzero(row)) for row in decided]

    def selection(self, positive):
        from scripts.evaluation.thresholds import tuned_macro_f1

        return "f1_macro_at_tuned_thresholds", lambda y, z: tuned_macro_f1(y, self.activate(z))

    def score(self, y, decided, outputs, names, positive):
        from scripts.evaluation import metrics

        return metrics.multilabel_metrics(y, decided, outputs, list(names))

    def resampled(self, W, y, decided, outputs, positive):
        from scripts.evaluation.uncertainty import multilabel_scores

        return multilabel_scores(W, y.astype(int), decided.astype(int))

    def linear_reference(self, seed=0):
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        return OneVsRestClassifier(
            LogisticRegression(class_weight="balanced", max_iter=3000, random_state=seed)
        )

    def reference_outputs(self, model, x, n_out, keep=None):
        out = np.zeros((x.shape[0], n_out))
        if x.shape[0]:
            out[:, keep] = model.predict_proba(x)
        return out

    def constant(self, y_train, n_rows, n_out):
        out = np.zeros((n_rows, n_out))
        out[:, int(y_train.sum(0).argmax())] = 1.0
        return out

    threshold_words = "one per label"

    def threshold_counts(self, n):
        return (0, n)


# ---------------------------------------------------------------- regression


class Regression(Task):
    """One or several numeric targets. Trained on standardised targets (each target's training mean and
    standard deviation), with the scale folded back into the saved head, so a plain transformers load
    outputs the score in the data's units. No temperature or thresholds: a prediction interval instead
    (split conformal on validation or out-of-fold residuals, quickfit.json `interval`)."""

    name, word, head = "regression", "regression", "single"
    problem_type = "regression"
    classifies = False
    has_temperature = False
    stratify = "quantile"
    headline = ("pearson", "spearman", "rmse", "mae", "r2")
    compare = curve_metric = "r2"
    hub_metrics = {
        "pearson": "pearsonr",
        "spearman": "spearmanr",
        "rmse": "rmse",
        "mae": "mae",
        "r2": "r_squared",
    }

    def encode(self, labels, names):
        return np.array([list(v) for v in labels], dtype=np.float64).reshape(-1, len(names))

    def dump_label(self, value):
        return json.dumps([float(v) for v in value])

    def parse_label(self, cell):
        return tuple(float(v) for v in json.loads(cell))

    def target_scale(self, y):
        mean = y.mean(axis=0)
        std = y.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        return {"mean": [float(v) for v in mean], "std": [float(v) for v in std]}

    def to_model(self, y, scale):
        return (y - np.asarray(scale["mean"])) / np.asarray(scale["std"]) if scale else y

    def from_model(self, outputs, scale):
        return (
            np.asarray(outputs) * np.asarray(scale["std"]) + np.asarray(scale["mean"]) if scale else outputs
        )

    def loss(self, logits, labels, weight=None):
        import torch

        return torch.nn.functional.mse_loss(
            logits.float().view(labels.shape[0], -1), labels.float().view(labels.shape[0], -1)
        )

    def activate(self, logits, temperature=None):
        return np.asarray(logits, dtype=np.float64)

    def decide(self, outputs, thresholds, positive):
        return np.asarray(outputs, dtype=np.float64)

    def named(self, decided, names):
        return [tuple(float(v) for v in row) for row in decided]

    def output_columns(self, names):
        return []  # the score is `predicted` (one target) or pred_<target>; intervals beside it

    def selection(self, positive):
        from scripts.evaluation.regression_metrics import mean_r2

        return "r2", lambda y, z: mean_r2(
            np.asarray(y).reshape(len(y), -1), np.asarray(z).reshape(len(z), -1)
        )

    def score(self, y, decided, outputs, names, positive):
        from scripts.evaluation.regression_metrics import regression_metrics

        return regression_metrics(y, decided, list(names))

    def resampled(self, W, y, decided, outputs, positive):
        from scripts.evaluation.regression_metrics import resampled_scores

        return resampled_scores(W, y, decided)

    def strata(self, y):
        return quantile_bins(y[:, 0] if y.ndim == 2 else y)

    def linear_reference(self, seed=0):
        from sklearn.linear_model import RidgeCV

        return RidgeCV(alphas=np.logspace(-3, 3, 13))

    def reference_outputs(self, model, x, n_out, keep=None):
        if not x.shape[0]:
            return np.zeros((0, n_out))
        return np.asarray(model.predict(x), dtype=np.float64).reshape(x.shape[0], n_out)

    def constant(self, y_train, n_rows, n_out):
        return np.tile(y_train.mean(axis=0), (n_rows, 1))

    def validate_meta(self, meta, path, n):
        from scripts.model.meta import _numbers, damaged

        if meta.get("temperature") is not None or meta.get("thresholds"):
            raise damaged(path, "temperature", "and thresholds must be empty for regression")
        scale = meta.get("target_scale")
        if scale is not None and not (
            isinstance(scale, dict)
            and _numbers(scale.get("mean"), n)
            and _numbers(scale.get("std"), n, 1e-12)
        ):
            raise damaged(path, "target_scale", "must hold a mean and a positive std per target")
        interval = meta.get("interval")
        if interval is not None and not (
            isinstance(interval, dict)
            and _numbers([interval.get("level")], 1, 0.0, 1.0)
            and _numbers(interval.get("half_width"), n, 0.0)
        ):
            raise damaged(path, "interval", "must hold a level in (0, 1) and a half_width per target")


def quantile_bins(values: np.ndarray, bins: int = 5) -> np.ndarray:
    """Each value's quantile bin (0..bins-1): regression splits and resamples keep the target's spread."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2 * bins:
        bins = max(1, len(values) // 2)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right").astype(np.int64)


BINARY = SingleLabel(
    "binary",
    "binary",
    (
        "accuracy",
        "balanced_accuracy",
        "precision_positive",
        "recall_positive",
        "f1_positive",
        "f1_macro",
        "roc_auc",
        "pr_auc",
        "mcc",
    ),
    "f1_positive",
    "accuracy",
)
MULTICLASS = SingleLabel(
    "multiclass",
    "multi-class",
    (
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "f1_weighted",
        "f1_micro",
        "precision_macro",
        "recall_macro",
        "roc_auc_ovr",
        "mcc",
    ),
    "f1_macro",
    "f1_macro",
)
MULTILABEL = MultiLabel()
REGRESSION = Regression()
TASKS: dict[str, Task] = {t.name: t for t in (BINARY, MULTICLASS, MULTILABEL, REGRESSION)}


def get(name: str) -> Task:
    """The task description for a task name (binary, multiclass, multilabel, regression)."""
    try:
        return TASKS[name]
    except KeyError:
        from scripts.common.errors import UserError

        raise UserError(f"task {name!r} is not one quickfit knows; use one of {', '.join(TASKS)}") from None


# ---------------------------------------------------------------- inputs: one text, or a pair


@dataclass(frozen=True)
class Inputs:
    """What a row gives the model: one text, or a pair (the tokenizer's pair input, token types where the
    architecture has them, truncated longest-first). A pair's second text is the frame's `text_b`."""

    pair: bool = False

    @property
    def columns(self) -> list[str]:
        return ["text", "text_b"] if self.pair else ["text"]

    def rows(self, frame: Any) -> list[Any]:
        """The model inputs of a frame's rows: texts, or (first, second) tuples."""
        if self.pair:
            return list(zip(frame["text"].astype(str).tolist(), frame["text_b"].astype(str).tolist()))
        return frame["text"].astype(str).tolist()

    def shown(self, frame: Any) -> list[str]:
        """Each row as a reader sees it: its text, or a pair's two texts joined by " || "."""
        if self.pair:
            return [f"{a} || {b}" for a, b in zip(frame["text"].astype(str), frame["text_b"].astype(str))]
        return frame["text"].astype(str).tolist()

    def key(self, frame: Any) -> Any:
        """One string a row, for duplicates and near-copies: a pair and its swap alike."""
        import pandas as pd

        if not self.pair:
            return frame["text"]
        keys = [PAIR_JOIN.join(sorted((a, b))) for a, b in zip(frame["text"], frame["text_b"])]
        return pd.Series(keys, index=frame.index, dtype=object)


PAIR_JOIN = "\n\u241e\n"  # between a pair's two texts where one string stands for both (a record separator)


def inputs_of(record_or_meta: dict[str, Any]) -> Inputs:
    return Inputs(pair=bool(record_or_meta.get("text_pair")))


def is_pair(rows: Sequence[Any]) -> bool:
    return bool(len(rows)) and isinstance(rows[0], tuple)


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
