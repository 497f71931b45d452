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

from scripts.common.tasks.base import Task
from scripts.common.tasks.classes import MultiLabel, SingleLabel
from scripts.common.tasks.inputs import PAIR_JOIN, Inputs, inputs_of, is_pair
from scripts.common.tasks.regression import Regression, quantile_bins

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
    (3, "binary: three epochs, the best one kept by validation", "one"),
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
    (4, "{n_labels} classes: a fourth epoch helps the small ones (the best epoch is kept)", ""),
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


__all__ = [
    "BINARY",
    "MULTICLASS",
    "MULTILABEL",
    "PAIR_JOIN",
    "REGRESSION",
    "TASKS",
    "Inputs",
    "MultiLabel",
    "Regression",
    "SingleLabel",
    "Task",
    "get",
    "inputs_of",
    "is_pair",
    "quantile_bins",
]
