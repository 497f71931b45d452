"""Classification: one label a row (binary, multi-class: softmax and cross-entropy) or a set of labels
(multi-label: one sigmoid and binary cross-entropy a label)."""

from __future__ import annotations

import json

import numpy as np

from scripts.common.tasks.base import Task, _scaled, _softmax


class SingleLabel(Task):
    head = "single"
    problem_type = "single_label_classification"
    target_dtype = "int64"

    def __init__(
        self,
        name: str,
        word: str,
        headline: tuple[str, ...],
        compare: str,
        curve_metric: str,
        recipe: tuple[int, str, str],
    ):
        self.name, self.word, self.headline, self.compare, self.curve_metric = (
            name,
            word,
            headline,
            compare,
            curve_metric,
        )
        self.usual_epochs, self.epochs_why, self.threshold_tuning = recipe
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

    per_label = False  # one softmax: one temperature, one loss term and one confidence a row
    reliability_axis = "accuracy"

    def truth(self, y, n):
        return np.eye(n)[y]

    def loss_terms(self, probs, y):
        return -np.log(probs[np.arange(len(y)), y])[:, None]

    def reliability(self, probs, y):
        return probs.max(axis=1), (probs.argmax(axis=1) == y).astype(float)

    def prior_rows(self, n):
        truth = np.repeat(np.arange(n), 2)  # each class once answered right, once as the next class
        decided = truth.copy()
        decided[1::2] = (np.arange(n) + 1) % n
        return truth, decided, np.eye(n)[decided]

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

    def linear_reference(self, seed=0, C=1.0):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed)

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
    rare_labels, usual_epochs, threshold_tuning = True, 5, "per label"
    read_back_from_labels = False
    epochs_why = "multi-label: rare labels keep improving for longer (the best epoch is kept)"
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

    per_label = True  # one sigmoid a label: a temperature, a loss term and a confidence a label
    reliability_axis = "share of labels present"

    def truth(self, y, n):
        return y.astype(float)

    def loss_terms(self, probs, y):
        return -(y * np.log(probs) + (1 - y) * np.log(1 - probs))

    def reliability(self, probs, y):
        return probs.ravel(), y.ravel().astype(float)

    def prior_rows(self, n):
        # each label once missed, once a false alarm: no found one, which would lift the many labels a
        # small run never finds (GoEmotions at 8 a label: an interval up to 0.37 over a naive 0.26)
        truth, decided = np.zeros((2 * n, n), dtype=int), np.zeros((2 * n, n), dtype=int)
        for j in range(n):
            truth[2 * j, j] = 1
            decided[2 * j + 1, j] = 1
        return truth, decided, decided.astype(float)

    def selection(self, positive):
        from scripts.evaluation.thresholds import tuned_macro_f1

        return "f1_macro_at_tuned_thresholds", lambda y, z: tuned_macro_f1(y, self.activate(z))

    def score(self, y, decided, outputs, names, positive):
        from scripts.evaluation import metrics

        return metrics.multilabel_metrics(y, decided, outputs, list(names))

    def resampled(self, W, y, decided, outputs, positive):
        from scripts.evaluation.uncertainty import multilabel_scores

        return multilabel_scores(W, y.astype(int), decided.astype(int))

    def linear_reference(self, seed=0, C=1.0):
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        return OneVsRestClassifier(
            LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed)
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
