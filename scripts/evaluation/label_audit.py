"""Label audit: rows whose given label the evidence disputes, found with cleanlab on out-of-sample
probabilities - the fine-tuned model's on validation and test, cross-validated TF-IDF + LR's on the
training split (the model has seen those rows, so its own probabilities there would agree with any label).
It flags rows for a person to look at; it never drops or changes a row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scripts.evaluation import baselines

FOLDS = 5
MAX_TRAIN_ROWS = 20_000  # cross-validating the baseline on more rows costs minutes; the audit says it skipped


def out_of_fold_baseline(
    train: pd.DataFrame, y: np.ndarray, task: str, n_labels: int, seed: int = 0
) -> np.ndarray:
    """TF-IDF + LR probabilities for each training row from a model that did not see it (k folds)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from scripts.common import tasks

    kind = tasks.get(task)
    probs = np.zeros((len(train), n_labels))
    strata = kind.strata(y)  # a class a row; None (multi-label): rows split as they are
    folds = max(2, min(FOLDS, int(np.bincount(strata).min()) if strata is not None else FOLDS))
    splitter = (
        KFold(folds, shuffle=True, random_state=seed)
        if strata is None
        else StratifiedKFold(folds, shuffle=True, random_state=seed)
    )
    for fit_rows, held_rows in splitter.split(np.zeros(len(y)), strata):
        probs[held_rows] = baselines.tfidf_reference(
            train.iloc[fit_rows], y[fit_rows], [train.iloc[held_rows]], kind, n_labels, seed
        )[0]
    return probs


def find_issues(y: np.ndarray, probs: np.ndarray, task: str) -> np.ndarray:
    """Row indices cleanlab flags, the most likely mislabelled first. n_jobs=1: cleanlab's forked worker pool
    deadlocks after torch has started its threads (as Simple Transformers' does)."""
    from scripts.common import tasks

    if tasks.get(task).per_label:
        from cleanlab.multilabel_classification.filter import find_label_issues

        given = [list(np.flatnonzero(row)) for row in y]
        return np.asarray(
            find_label_issues(
                labels=given, pred_probs=probs, return_indices_ranked_by="self_confidence", n_jobs=1
            )
        )
    from cleanlab.filter import find_label_issues

    return np.asarray(
        find_label_issues(labels=y, pred_probs=probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    )


def audit(
    parts: list[tuple[str, list[str], np.ndarray, np.ndarray, str]],
    labels: list[str],
    task: str,
    thresholds: list[float] | None = None,
) -> pd.DataFrame:
    """(split, texts, given label ids, out-of-sample probabilities, whose) -> the flagged rows, the most
    confident first."""
    from scripts.common import tasks

    per_label, rows = tasks.get(task).per_label, []
    for split, texts, y, probs, whose in parts:
        try:
            flagged = find_issues(y, probs, task)
        except (ValueError, IndexError, ZeroDivisionError) as exc:  # e.g. a class with too few rows
            rows.append(
                {
                    "split": split,
                    "text": f"(audit skipped: {exc})",
                    "given": "",
                    "suggested": "",
                    "confidence": np.nan,
                    "evidence": whose,
                }
            )
            continue
        for i in flagged:
            if per_label:
                cut = np.array(thresholds) if thresholds else 0.5
                given = ",".join(labels[j] for j in np.flatnonzero(y[i]))
                suggested = ",".join(labels[j] for j in np.flatnonzero(probs[i] >= cut))
                confidence = float(np.mean(np.abs(probs[i] - 0.5)) * 2)
            else:
                given, best = labels[int(y[i])], int(probs[i].argmax())
                suggested, confidence = labels[best], float(probs[i, best])
            rows.append(
                {
                    "split": split,
                    "text": texts[i],
                    "given": given,
                    "suggested": suggested,
                    "confidence": round(confidence, 4),
                    "evidence": whose,
                }
            )
    frame = pd.DataFrame(rows, columns=["split", "text", "given", "suggested", "confidence", "evidence"])
    return frame.sort_values("confidence", ascending=False, na_position="last").reset_index(drop=True)


def summary(issues: pd.DataFrame, counts: dict[str, int]) -> dict[str, Any]:
    flagged = issues[issues["confidence"].notna()]
    return {
        "flagged": {split: int((flagged["split"] == split).sum()) for split in counts},
        "rows": counts,
        "top": flagged.head(10).to_dict(orient="records"),
    }
