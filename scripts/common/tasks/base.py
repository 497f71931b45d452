"""What a task kind decides (the interface every stage asks), and the activations its kinds share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
    # the default recipe where the data are not small (the measurements: scripts/training/recipes.py)
    rare_labels = False  # many labels on few rows each: larger steps, longer warm-up, the probe start
    usual_epochs = 3
    epochs_why = "three epochs, the best one kept by validation"  # may name {n_labels}
    threshold_tuning = ""  # "one": a binary cut-off, tuned with enough validation positives; "per label"
    # a labelled file read for a trained run: True, task=auto reads its labels back as this kind
    # (single-label: a file may hold one class of two); False, the run's task is passed on
    read_back_from_labels = True

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

    # ---- calibration (classification)
    per_label = False  # True: one temperature, loss term and confidence a label (independent sigmoids)
    reliability_axis = ""  # what a reliability diagram's y axis counts

    def truth(self, y: np.ndarray, n: int) -> np.ndarray:
        """Encoded targets as a 0/1 matrix a column per output (the Brier score's truth)."""
        raise NotImplementedError

    def loss_terms(self, probs: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(rows, 1 or labels): each row's log-loss, or each (row, label)'s binary cross-entropy."""
        raise NotImplementedError

    def reliability(self, probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(confidence, correct) points of a reliability diagram and the expected calibration error."""
        raise NotImplementedError

    def output_columns(self, names: Sequence[str]) -> list[str]:
        """The columns make predict adds beside `predicted`, one a label (or target)."""
        return [f"prob_{name}" for name in names]

    # ---- metrics
    def selection(self, positive: int | None) -> tuple[str, Callable[[np.ndarray, np.ndarray], float]]:
        """The validation metric that chooses the epoch, from raw outputs (logits) and encoded targets."""
        raise NotImplementedError

    lower_is_better = frozenset({"rmse", "mae", "hamming_loss"})
    unbounded_above: frozenset[str] = frozenset()  # metrics that can pass 1 (every other is at most 1)

    def metric(
        self, name: str, names: Sequence[str], positive: int | None
    ) -> Callable[[np.ndarray, np.ndarray], float]:
        """A named metric (one of the headline ones, higher better) as a selection metric: raw outputs ->
        the task's decision rule -> the metric, as make eval computes it."""
        from scripts.common.errors import UserError

        if name not in self.headline or name in self.lower_is_better:
            choices = ", ".join(m for m in self.headline if m not in self.lower_is_better)
            raise UserError(
                f"metric={name!r} is not one {self.name} can choose an epoch by; choose one of {choices}"
            )

        def measure(y: np.ndarray, logits: np.ndarray) -> float:
            outputs = self.activate(logits)
            value = self.score(y, self.decide(outputs, None, positive), outputs, names, positive)[name]
            return float("-inf") if value is None or value != value else float(value)

        return measure

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

    def prior_rows(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(targets, decisions, outputs) of pseudo-rows holding a prior's right and wrong answers for every
        label, so that an interval over a few rows all answered right is not [1, 1]; None: no prior."""
        return None

    def strata(self, y: np.ndarray) -> np.ndarray | None:
        """The group each row is resampled within (None: rows resampled as they are)."""
        return None

    # ---- references
    def linear_reference(self, seed: int = 0, C: float = 1.0) -> Any:
        """The linear model fitted on TF-IDF features and on frozen embeddings (an sklearn estimator); C:
        the inverse penalty of a logistic regression (a regression's ridge chooses its own)."""
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


def _softmax(scaled: np.ndarray) -> np.ndarray:
    shifted = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _scaled(logits: np.ndarray, temperature: Any) -> np.ndarray:
    return np.asarray(logits, dtype=np.float64) / np.asarray(temperature if temperature is not None else 1.0)
